import type { RateLimiterOptions } from 'bullmq';
import type { RateLimitOptions } from '../definition/saga-options.interface.js';

/**
 * A start is released by BullMQ's limiter, then claimed in Postgres (where `step_started` is recorded)
 * and handed to its handler a few ms later, more under load: spacing starts this much wider keeps
 * any window of starts as the provider sees them within the limit, for delays up to about a tenth of
 * the window.
 */
const JITTER_HEADROOM = 0.1;

/**
 * BullMQ's limiter for a rate limit, such that no window of `durationMs`, wherever it begins, sees
 * more than `max` starts. BullMQ counts starts in fixed windows that begin with a window's first
 * start: with its window set to `durationMs` itself, `max` starts at the end of one window and `max`
 * more at the start of the next make 2 × `max` within `durationMs`. Shorter windows bound that:
 * with `m` starts per window of `d` ms, a span of `durationMs` meets at most ceil(durationMs / d) + 1
 * windows (just ceil(durationMs / d) when `m` is 1: each start opens its window). Among those
 * bounds that keep to `max`, this takes the highest rate, which is `max / durationMs` or close.
 */
export function evenRateLimiter({ max, durationMs: declared }: RateLimitOptions): RateLimiterOptions {
  const durationMs = declared * (1 + JITTER_HEADROOM);
  let best = { max: 1, duration: Math.ceil(durationMs / max) };
  for (let m = 2; m <= Math.min(Math.floor(max / 2), 10_000); m++) {
    const duration = Math.ceil(durationMs / (Math.floor(max / m) - 1));
    if (m / duration > best.max / best.duration) best = { max: m, duration };
  }
  return best;
}
