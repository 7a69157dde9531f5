import assert from 'node:assert/strict';
import type { HttpClient } from './http-client.js';
import { eventsOf } from './sagas.js';

const TERMINAL_EVENTS = ['saga_completed', 'saga_compensated', 'saga_failed'];

/** When a saga went past `pending` (its first step started) and when it ended, from its events. */
export interface KeyRun {
  id: string;
  /** Undefined when no step of it ever started (it was cancelled, or its deadline passed, while queued). */
  start?: number;
  end: number;
}

export async function runOf(http: HttpClient, id: string): Promise<KeyRun> {
  const events = await eventsOf(http, id);
  const started = events.find((e) => e.type === 'step_started');
  const ended = events.findLast((e) => TERMINAL_EVENTS.includes(e.type));
  assert.ok(ended, `saga ${id} has not ended`);
  return { id, start: started && Date.parse(started.at), end: Date.parse(ended.at) };
}

/**
 * The runs of sagas of one key never overlap: each starts when (or after) the one before it ended.
 * Returns the ids of those that ran, in the order they ran.
 */
export function assertOneAtATime(runs: KeyRun[]): string[] {
  const ran = runs.filter((r) => r.start !== undefined).sort((a, b) => a.start! - b.start! || a.end - b.end);
  for (let i = 1; i < ran.length; i++) {
    assert.ok(
      ran[i].start! >= ran[i - 1].end,
      `saga ${ran[i].id} started at ${ran[i].start} before ${ran[i - 1].id} ended at ${ran[i - 1].end}`,
    );
  }
  return ran.map((r) => r.id);
}
