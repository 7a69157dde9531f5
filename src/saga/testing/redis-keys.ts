import { Redis } from 'ioredis';

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

/** Deletes every key under `${prefix}:`, with a connection of its own. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  try {
    await redis.connect();
    return await wipeRedisPrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
