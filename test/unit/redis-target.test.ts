import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyPrefixFor, parseRedisUrl } from '../../src/saga/redis/redis-target.js';

describe('parseRedisUrl', () => {
  it('one URL is one server, read by ioredis as given', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2'])
      assert.deepEqual(parseRedisUrl(url), { cluster: false, url });
  });

  it('several URLs are the seed nodes of a cluster, with the first one’s credentials and TLS', () => {
    assert.deepEqual(parseRedisUrl('rediss://ops:s%40cret@a.example:7000,rediss://b.example:7001'), {
      cluster: true,
      nodes: [
        { host: 'a.example', port: 7000 },
        { host: 'b.example', port: 7001 },
      ],
      username: 'ops',
      password: 's@cret',
      tls: true,
    });
  });

  it('redis-cluster:// lists host:port pairs; a missing port is 6379', () => {
    assert.deepEqual(parseRedisUrl('redis-cluster://:pw@10.0.0.1:7000,10.0.0.2'), {
      cluster: true,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
      ],
      username: undefined,
      password: 'pw',
      tls: false,
    });
    assert.equal(parseRedisUrl('redis-cluster://10.0.0.1:7000').cluster, true);
  });
});

describe('keyPrefixFor', () => {
  const cluster = parseRedisUrl('redis-cluster://a:7000');
  const single = parseRedisUrl('redis://a:6379');

  it('on a cluster, wraps a prefix without a hash tag in one, so that every key shares a slot', () => {
    assert.equal(keyPrefixFor(cluster, 'saga'), '{saga}');
    assert.equal(keyPrefixFor(cluster, 'team:saga'), '{team:saga}');
  });

  it('keeps a prefix that has a hash tag, and any prefix on one server', () => {
    assert.equal(keyPrefixFor(cluster, 'team:{saga}'), 'team:{saga}');
    assert.equal(keyPrefixFor(single, 'saga'), 'saga');
    assert.equal(keyPrefixFor(single, '{saga}'), '{saga}');
  });
});
