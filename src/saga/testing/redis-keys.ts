import { Cluster, Redis } from 'ioredis';
import { openRedis } from '../redis/redis-connections.js';
import { keyPrefixFor, parseRedisUrl } from '../redis/redis-target.js';

/** Deletes every key under `${prefix}:` with SCAN and DEL: not atomic, like a partial loss of Redis data. */
export async function wipeRedisPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

/**
 * Deletes every key under `${prefix}:`, with a connection of its own: on a cluster, under the prefix
 * as the engine uses it there (hash-tagged), on each master.
 */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const target = parseRedisUrl(redisUrl);
  const client = openRedis(target, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await client.connect();
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    const counts = await Promise.all(
      nodes.map((node) => wipeRedisPrefix(node, keyPrefixFor(target, prefix))),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  } finally {
    client.disconnect();
  }
}
