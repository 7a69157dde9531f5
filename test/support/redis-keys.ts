import type { Redis } from 'ioredis';

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
