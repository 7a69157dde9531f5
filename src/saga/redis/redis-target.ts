import type { ClusterNode } from 'ioredis';

/** Where Redis is: one server (its URL, as ioredis reads it), or the seed nodes of a Redis Cluster. */
export type RedisTarget =
  | { cluster: false; url: string }
  | { cluster: true; nodes: ClusterNode[]; username?: string; password?: string; tls: boolean };

const CLUSTER_SCHEME = 'redis-cluster://';

/**
 * Reads a REDIS_URL: `redis://host:port` (or `rediss://`) is one server; several of them separated
 * by `,`, or `redis-cluster://host:port,host:port`, are the seed nodes of a cluster (any few of
 * its nodes: ioredis learns the rest from them). Credentials and TLS are the first node's.
 */
export function parseRedisUrl(redisUrl: string): RedisTarget {
  const clusterForm = redisUrl.startsWith(CLUSTER_SCHEME);
  const parts = (clusterForm ? redisUrl.slice(CLUSTER_SCHEME.length) : redisUrl).split(',');
  if (!clusterForm && parts.length === 1) return { cluster: false, url: redisUrl };
  const urls = parts.map((part) => new URL(clusterForm ? `redis://${part}` : part));
  const [first] = urls;
  return {
    cluster: true,
    nodes: urls.map((url) => ({ host: url.hostname, port: Number(url.port || 6379) })),
    username: decodeURIComponent(first.username) || undefined,
    password: decodeURIComponent(first.password) || undefined,
    tls: first.protocol === 'rediss:',
  };
}

/**
 * The key prefix on this target. On a cluster, a BullMQ queue's keys must all hash to one slot (its
 * Lua scripts touch several at once), and so must every key of the engine, so the prefix carries a
 * hash tag: `{saga}` for `saga`; a prefix that has one already (`team:{saga}`) is kept.
 */
export function keyPrefixFor(target: RedisTarget, prefix: string): string {
  return target.cluster && !/\{[^}]+\}/.test(prefix) ? `{${prefix}}` : prefix;
}
