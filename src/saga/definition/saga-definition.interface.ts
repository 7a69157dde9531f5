import type { ZodType } from 'zod';
import type { CronSchedule } from '../schedules/cron-schedule.js';
import type { RetryPolicy } from './retry-policy.js';
import type { HandlerOptions } from './saga-options.interface.js';

/** A step or compensation method, with its options resolved against the module defaults. */
export interface HandlerDefinition {
  method: string;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Its concurrency and rate limit, when it declares either: its attempts then run from a queue of their own. */
  limits?: HandlerLimits;
}

/** A handler's limits, enforced for every worker process together. */
export type HandlerLimits = Pick<HandlerOptions, 'concurrency' | 'rateLimit'>;

/** What a step does: `task` runs its handler, `wait` waits for a signal first, `child` runs another saga. */
export type StepKind = 'task' | 'wait' | 'child';

/** The signal a wait step waits for, as the engine uses it. */
export interface SignalDefinition {
  name: string;
  schema: ZodType;
  /** How long the step waits for the saga with this input; undefined: no limit. */
  timeoutMs(input: unknown): number | undefined;
}

export interface StepDefinition extends HandlerDefinition {
  /** The step's name is its method name; it is how `ctx.result(name)` and the saga view refer to it. */
  name: string;
  index: number;
  /** The parallel group it belongs to, if any: adjacent steps of one group run at once. */
  group?: string;
  /** Its position in the run: steps of one parallel group share a stage, every other step has its own. */
  stage: number;
  compensateOnFailure: boolean;
  compensation?: HandlerDefinition;
  kind: StepKind;
  /** For a wait step. */
  signal?: SignalDefinition;
  /** For a child step: the name of the saga it starts. */
  child?: string;
  /** How long after its stage is reached (the saga starts, or the previous stage completes) it is due. */
  delayMs?: number;
}

export interface SagaDefinition {
  name: string;
  version: number;
  input: ZodType;
  /**
   * A saga still going forward this long after it started (or after its scheduled start) is
   * cancelled with `DeadlineExceeded`.
   */
  deadlineMs?: number;
  /** At most one saga of this name per value is past `pending`; the others queue, in start order. */
  concurrencyKey?: (input: unknown) => string;
  /** 1 (first) .. 10, for the starts that do not set their own. */
  priority: number;
  className: string;
  instance: object;
  steps: StepDefinition[];
  /** Its cron schedules, validated (the input parsed by the schema too). */
  schedules: ScheduleDefinition[];
}

export interface ScheduleDefinition {
  id: string;
  cron: CronSchedule;
  /** As declared: each fire starts a saga with it, validated again then. */
  input: unknown;
}
