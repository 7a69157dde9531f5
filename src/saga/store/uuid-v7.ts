import { randomUUID } from 'node:crypto';

/** RFC 9562 UUIDv7: time-ordered, so the newest sagas are the largest ids and list pages need no extra index. */
export function uuidV7(now: number = Date.now()): string {
  // A v4 UUID supplies the random bits and the variant: randomUUID draws from a pooled buffer of
  // entropy, where randomBytes would call into OpenSSL for every id (about 16 times slower).
  const random = randomUUID();
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}

/**
 * The smallest UUIDv7 of a millisecond: every saga created at or after `time` has an id at least
 * this, so a time range of creation is a range of ids, served by the primary key.
 */
export function firstUuidV7Of(time: Date): string {
  const hex = time.getTime().toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8)}-0000-0000-000000000000`;
}
