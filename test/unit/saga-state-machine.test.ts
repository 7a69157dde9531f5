import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { backoffDelay, type RetryPolicy } from '../../src/saga/definition/retry-policy.js';
import type { SagaDefinition, StepDefinition } from '../../src/saga/definition/saga-definition.interface.js';
import type { SagaError } from '../../src/saga/errors/saga-error.js';
import { CompensationStatus, SagaStatus, StepStatus } from '../../src/saga/saga-status.js';
import {
  CANCELLED_ERROR,
  cancelNow,
  decide,
  retryFailed,
} from '../../src/saga/execution/saga-state-machine.js';
import { applyTransition } from '../../src/saga/execution/saga-snapshot.js';
import {
  SagaEventType,
  type Outcome,
  type SagaSnapshot,
  type StepSnapshot,
  type Transition,
} from '../../src/saga/execution/transition.interface.js';

// ---------------------------------------------------------------------------------------------
// Hand-built definitions and snapshots
// ---------------------------------------------------------------------------------------------

function policy(attempts: number, backoff: Partial<RetryPolicy['backoff']> = {}): RetryPolicy {
  return { attempts, backoff: { type: 'exponential', delay: 100, maxDelay: 60_000, jitter: 0, ...backoff } };
}

interface StepSpec {
  /** Has a compensation (with this policy, or a default one when `true`). */
  compensation?: boolean | RetryPolicy;
  compensateOnFailure?: boolean;
  retry?: RetryPolicy;
}

const STEP_RETRY = policy(3, { delay: 100 });
const COMPENSATION_RETRY = policy(4, { type: 'fixed', delay: 700 });

function definition(specs: StepSpec[]): SagaDefinition {
  const steps: StepDefinition[] = specs.map((spec, index) => ({
    name: `s${index}`,
    index,
    method: `s${index}`,
    retry: spec.retry ?? STEP_RETRY,
    timeoutMs: 1000,
    stage: index,
    compensateOnFailure: spec.compensateOnFailure ?? false,
    ...(spec.compensation
      ? {
          compensation: {
            method: `undoS${index}`,
            retry: spec.compensation === true ? COMPENSATION_RETRY : spec.compensation,
            timeoutMs: 1000,
          },
        }
      : {}),
  }));
  return { name: 'test', version: 1, input: z.unknown(), className: 'TestSaga', instance: {}, steps };
}

function stepSnap(index: number, patch: Partial<StepSnapshot> = {}): StepSnapshot {
  return {
    index,
    name: `s${index}`,
    status: StepStatus.Pending,
    attempts: 0,
    output: null,
    compensationStatus: null,
    compensationAttempts: 0,
    ...patch,
  };
}

/**
 * A saga in the middle of running step `at` (its attempt number `attempts`), every step before it
 * completed with output `{ step: i }`.
 */
function runningAt(
  def: SagaDefinition,
  at: number,
  opts: { attempts?: number; cancelRequested?: boolean; seq?: number } = {},
): SagaSnapshot {
  return {
    id: 'saga-1',
    name: def.name,
    version: 1,
    status: SagaStatus.Running,
    seq: opts.seq ?? 10 + at,
    phase: 'step',
    stepIndex: at,
    running: true,
    cancelRequested: opts.cancelRequested ?? false,
    input: {},
    steps: def.steps.map((s) =>
      s.index < at
        ? stepSnap(s.index, { status: StepStatus.Completed, attempts: 1, output: { step: s.index } })
        : s.index === at
          ? stepSnap(s.index, { status: StepStatus.Running, attempts: opts.attempts ?? 1 })
          : stepSnap(s.index),
    ),
  };
}

/**
 * A saga compensating step `at` (compensation attempt `attempts`): steps up to `completedUpTo`
 * (exclusive) completed, steps above `at` among them already compensated when compensable.
 */
function compensatingAt(
  def: SagaDefinition,
  at: number,
  completedUpTo: number,
  opts: { attempts?: number; cancelRequested?: boolean; seq?: number; failedStep?: boolean } = {},
): SagaSnapshot {
  return {
    id: 'saga-1',
    name: def.name,
    version: 1,
    status: SagaStatus.Compensating,
    seq: opts.seq ?? 42,
    phase: 'compensation',
    stepIndex: at,
    running: true,
    cancelRequested: opts.cancelRequested ?? false,
    input: {},
    steps: def.steps.map((s) => {
      if (s.index === at) {
        return stepSnap(s.index, {
          status: StepStatus.Compensating,
          attempts: 1,
          output: { step: s.index },
          compensationStatus: CompensationStatus.Running,
          compensationAttempts: opts.attempts ?? 1,
        });
      }
      if (s.index > at && s.index < completedUpTo) {
        return s.compensation
          ? stepSnap(s.index, {
              status: StepStatus.Compensated,
              attempts: 1,
              output: { step: s.index },
              compensationStatus: CompensationStatus.Completed,
              compensationAttempts: 1,
            })
          : stepSnap(s.index, { status: StepStatus.Completed, attempts: 1, output: { step: s.index } });
      }
      if (s.index < at) {
        return stepSnap(s.index, { status: StepStatus.Completed, attempts: 1, output: { step: s.index } });
      }
      if (s.index === completedUpTo && opts.failedStep) {
        return stepSnap(s.index, { status: StepStatus.Failed, attempts: 1 });
      }
      return stepSnap(s.index);
    }),
  };
}

const succeeded = (output: unknown = { ok: true }): Outcome => ({ kind: 'succeeded', output });
const failed = (error: SagaError): Outcome => ({ kind: 'failed', error });
const retryable: SagaError = { name: 'Flaky', message: 'try again', retryable: true };
const fatal: SagaError = { name: 'NonRetryableError', message: 'declined', retryable: false };

function assertSameSeqAndCancel(t: Transition, saga: SagaSnapshot): void {
  assert.equal(t.sagaId, saga.id);
  assert.equal(t.seq, saga.seq);
  assert.equal(t.cancelSeen, saga.cancelRequested);
}

function eventTypes(t: Transition): string[] {
  return t.events.map((e) => e.type);
}

// ---------------------------------------------------------------------------------------------
// Forward steps
// ---------------------------------------------------------------------------------------------

describe('decide: a step succeeds', () => {
  it('schedules the next step at once and records the step completed with its output', () => {
    const def = definition([{}, {}, {}]);
    const saga = runningAt(def, 1, { attempts: 2 });
    const t = decide(def, saga, succeeded({ charged: 10 }));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Running);
    assert.equal(t.phase, 'step');
    assert.equal(t.stepIndex, 2);
    assert.equal(t.delayMs, 0);
    assert.equal(t.output, undefined);
    assert.equal(t.error, undefined);
    assert.deepEqual(t.step, {
      index: 1,
      side: 'step',
      status: StepStatus.Completed,
      output: { charged: 10 },
      error: null,
      finished: true,
    });
    assert.deepEqual(t.events, [{ type: SagaEventType.StepCompleted, step: 's1', attempt: 2 }]);
  });

  it('after the first step, schedules the second', () => {
    const def = definition([{ compensation: true }, {}]);
    const t = decide(def, runningAt(def, 0), succeeded());
    assert.equal(t.stepIndex, 1);
    assert.equal(t.status, SagaStatus.Running);
    assert.equal(t.delayMs, 0);
  });

  it('after the last step, completes the saga with the output of every step', () => {
    const def = definition([{ compensation: true }, {}, { compensation: true }]);
    const saga = runningAt(def, 2);
    const t = decide(def, saga, succeeded({ sent: true }));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Completed);
    assert.equal(t.delayMs, null);
    assert.equal(t.phase, 'step');
    assert.equal(t.stepIndex, 2);
    assert.deepEqual(t.output, { s0: { step: 0 }, s1: { step: 1 }, s2: { sent: true } });
    assert.equal(t.step?.status, StepStatus.Completed);
    assert.deepEqual(t.step?.output, { sent: true });
    assert.deepEqual(eventTypes(t), [SagaEventType.StepCompleted, SagaEventType.SagaCompleted]);
  });

  it('a one-step saga completes; an undefined output shows as null in the saga output', () => {
    const def = definition([{ compensation: true }]);
    const t = decide(def, runningAt(def, 0), { kind: 'succeeded', output: undefined });
    assert.equal(t.status, SagaStatus.Completed);
    assert.deepEqual(t.output, { s0: null });
  });

  it('a null or falsy output is kept in the saga output', () => {
    const def = definition([{}, {}, {}]);
    const saga = runningAt(def, 2);
    saga.steps[0].output = 0;
    saga.steps[1].output = false;
    const t = decide(def, saga, succeeded(''));
    assert.deepEqual(t.output, { s0: 0, s1: false, s2: '' });
  });
});

describe('decide: a step fails', () => {
  it('retryable with attempts left: the same step again, pending, after the backoff', () => {
    const def = definition([{ compensation: true }, { retry: policy(5, { delay: 100 }) }]);
    for (const attempt of [1, 2, 3, 4]) {
      const saga = runningAt(def, 1, { attempts: attempt });
      const t = decide(def, saga, failed(retryable));
      const expected = 100 * 2 ** (attempt - 1);
      assertSameSeqAndCancel(t, saga);
      assert.equal(t.status, SagaStatus.Running);
      assert.equal(t.phase, 'step');
      assert.equal(t.stepIndex, 1);
      assert.equal(t.delayMs, expected);
      assert.equal(t.error, undefined, 'the saga error is only set when the saga gives up');
      assert.deepEqual(t.step, {
        index: 1,
        side: 'step',
        status: StepStatus.Pending,
        error: retryable,
        finished: false,
      });
      assert.deepEqual(t.events, [
        {
          type: SagaEventType.StepFailed,
          step: 's1',
          attempt,
          data: { error: retryable, retryInMs: expected },
        },
      ]);
    }
  });

  it('the retry delay follows the step policy (fixed, capped, jittered with the injected random)', () => {
    const fixed = definition([{ retry: policy(3, { type: 'fixed', delay: 250 }) }]);
    assert.equal(decide(fixed, runningAt(fixed, 0, { attempts: 2 }), failed(retryable)).delayMs, 250);

    const capped = definition([{ retry: policy(10, { delay: 1000, maxDelay: 5000 }) }]);
    assert.equal(decide(capped, runningAt(capped, 0, { attempts: 7 }), failed(retryable)).delayMs, 5000);

    const jittered = definition([{ retry: policy(3, { type: 'fixed', delay: 1000, jitter: 0.5 }) }]);
    const t = decide(jittered, runningAt(jittered, 0), failed(retryable), () => 1);
    assert.equal(t.delayMs, 500);
    assert.equal(t.events[0].data?.retryInMs, 500);
  });

  it('retryable with no attempts left: compensates the latest completed step', () => {
    const def = definition([{ compensation: true }, { compensation: true }, { retry: policy(3) }]);
    const saga = runningAt(def, 2, { attempts: 3 });
    const t = decide(def, saga, failed(retryable));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, 0);
    assert.deepEqual(t.error, retryable);
    assert.deepEqual(t.step, {
      index: 2,
      side: 'step',
      status: StepStatus.Failed,
      error: retryable,
      finished: true,
    });
    assert.deepEqual(t.events, [
      { type: SagaEventType.StepFailed, step: 's2', attempt: 3, data: { error: retryable } },
      { type: SagaEventType.SagaCompensating, data: { cause: retryable } },
    ]);
  });

  it('a one-attempt policy never retries', () => {
    const def = definition([{ compensation: true }, { retry: policy(1) }]);
    const t = decide(def, runningAt(def, 1, { attempts: 1 }), failed(retryable));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
  });

  it('non-retryable on its first attempt: compensates at once, with attempts left', () => {
    const def = definition([{ compensation: true }, { compensation: true }, { retry: policy(10) }]);
    const saga = runningAt(def, 2, { attempts: 1 });
    const t = decide(def, saga, failed(fatal));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, 0);
    assert.deepEqual(t.error, fatal);
    assert.equal(t.step?.status, StepStatus.Failed);
    assert.equal(t.events[0].data?.retryInMs, undefined);
  });

  it('skips completed steps without a compensation', () => {
    const def = definition([{ compensation: true }, {}, {}, {}]);
    const t = decide(def, runningAt(def, 3), failed(fatal));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
  });

  it('does not compensate the failing step itself without compensateOnFailure', () => {
    const def = definition([{ compensation: true }, { compensation: true }]);
    const t = decide(def, runningAt(def, 1), failed(fatal));
    assert.equal(t.stepIndex, 0);
  });

  it('compensateOnFailure: compensates the failing step first', () => {
    const def = definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]);
    const saga = runningAt(def, 1, { attempts: 3 });
    const t = decide(def, saga, failed(retryable));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.deepEqual(t.step, {
      index: 1,
      side: 'step',
      status: StepStatus.Failed,
      error: retryable,
      finished: true,
    });
  });

  it('compensateOnFailure on the first step: it is the only one compensated', () => {
    const def = definition([{ compensation: true, compensateOnFailure: true }, { compensation: true }]);
    const t = decide(def, runningAt(def, 0), failed(fatal));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
  });

  it('compensateOnFailure without a compensation is skipped over', () => {
    const def = definition([{ compensation: true }, { compensateOnFailure: true }]);
    const t = decide(def, runningAt(def, 1), failed(fatal));
    assert.equal(t.stepIndex, 0);
  });

  it('compensateOnFailure does not compensate between attempts', () => {
    const def = definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]);
    const t = decide(def, runningAt(def, 1, { attempts: 1 }), failed(retryable));
    assert.equal(t.status, SagaStatus.Running);
    assert.equal(t.phase, 'step');
    assert.equal(t.stepIndex, 1);
  });

  it('the first step fails: nothing to undo, the saga ends compensated with the cause', () => {
    const def = definition([{ compensation: true }, { compensation: true }]);
    const saga = runningAt(def, 0, { attempts: 3 });
    const t = decide(def, saga, failed(retryable));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensated);
    assert.equal(t.delayMs, null);
    assert.deepEqual(t.error, retryable);
    assert.deepEqual(t.step, {
      index: 0,
      side: 'step',
      status: StepStatus.Failed,
      error: retryable,
      finished: true,
    });
    assert.deepEqual(t.events, [
      { type: SagaEventType.StepFailed, step: 's0', attempt: 3, data: { error: retryable } },
      { type: SagaEventType.SagaCompensated },
    ]);
  });

  it('no completed step has a compensation: the saga ends compensated', () => {
    const def = definition([{}, {}, { compensation: true }]);
    const t = decide(def, runningAt(def, 2), failed(fatal));
    assert.equal(t.status, SagaStatus.Compensated);
    assert.equal(t.delayMs, null);
    assert.deepEqual(t.error, fatal);
  });

  it('never compensates steps after the failing one', () => {
    const def = definition([{}, { compensation: true }, { compensation: true }, { compensation: true }]);
    const t = decide(def, runningAt(def, 1), failed(fatal));
    assert.equal(t.status, SagaStatus.Compensated);
  });
});

// ---------------------------------------------------------------------------------------------
// Compensations
// ---------------------------------------------------------------------------------------------

describe('decide: a compensation', () => {
  it('succeeds: the next lower compensation follows, the saga error is kept', () => {
    const def = definition([{ compensation: true }, { compensation: true }, { compensation: true }, {}]);
    const saga = compensatingAt(def, 2, 3, { attempts: 2, failedStep: true });
    const t = decide(def, saga, succeeded(null));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, 0);
    assert.equal('error' in t, false, 'the cause recorded when compensation began stays');
    assert.equal(t.output, undefined);
    assert.deepEqual(t.step, {
      index: 2,
      side: 'compensation',
      status: StepStatus.Compensated,
      compensationStatus: CompensationStatus.Completed,
      error: null,
      finished: true,
    });
    assert.deepEqual(t.events, [{ type: SagaEventType.CompensationCompleted, step: 's2', attempt: 2 }]);
  });

  it('succeeds: skips steps without a compensation', () => {
    const def = definition([{ compensation: true }, {}, {}, { compensation: true }, {}]);
    const t = decide(def, compensatingAt(def, 3, 4), succeeded(null));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
  });

  it('the lowest succeeds: the saga ends compensated', () => {
    const def = definition([{}, { compensation: true }, { compensation: true }]);
    const saga = compensatingAt(def, 1, 2);
    const t = decide(def, saga, succeeded(null));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensated);
    assert.equal(t.delayMs, null);
    assert.equal('error' in t, false);
    assert.equal(t.step?.status, StepStatus.Compensated);
    assert.equal(t.step?.compensationStatus, CompensationStatus.Completed);
    assert.deepEqual(eventTypes(t), [SagaEventType.CompensationCompleted, SagaEventType.SagaCompensated]);
  });

  it('of a step compensated on its own failure: continues below it', () => {
    const def = definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]);
    const saga = compensatingAt(def, 1, 1);
    const t = decide(def, saga, succeeded(null));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
  });

  it('fails retryably with attempts left: retried with its own backoff, not the step one', () => {
    const own = policy(4, { type: 'fixed', delay: 700 });
    const def = definition([{ compensation: true }, { compensation: own, retry: policy(3, { delay: 5 }) }]);
    for (const attempt of [1, 2, 3]) {
      const saga = compensatingAt(def, 1, 2, { attempts: attempt });
      const t = decide(def, saga, failed(retryable));
      assertSameSeqAndCancel(t, saga);
      assert.equal(t.status, SagaStatus.Compensating);
      assert.equal(t.phase, 'compensation');
      assert.equal(t.stepIndex, 1);
      assert.equal(t.delayMs, 700);
      assert.equal('error' in t, false);
      assert.deepEqual(t.step, {
        index: 1,
        side: 'compensation',
        status: StepStatus.Compensating,
        compensationStatus: CompensationStatus.Pending,
        error: retryable,
        finished: false,
      });
      assert.deepEqual(t.events, [
        {
          type: SagaEventType.CompensationFailed,
          step: 's1',
          attempt,
          data: { error: retryable, retryInMs: 700 },
        },
      ]);
    }
  });

  it('retry delays grow exponentially with the compensation attempt', () => {
    const def = definition([{ compensation: policy(6, { delay: 50 }) }]);
    const delays = [1, 2, 3, 4, 5].map(
      (attempt) => decide(def, compensatingAt(def, 0, 1, { attempts: attempt }), failed(retryable)).delayMs,
    );
    assert.deepEqual(delays, [50, 100, 200, 400, 800]);
  });

  it('exhausts its retries: the saga fails (dead letter), the step is compensation_failed', () => {
    const def = definition([{ compensation: true }, { compensation: policy(2) }]);
    const saga = compensatingAt(def, 1, 2, { attempts: 2 });
    const t = decide(def, saga, failed(retryable));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Failed);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, null);
    assert.deepEqual(t.error, retryable);
    assert.deepEqual(t.step, {
      index: 1,
      side: 'compensation',
      status: StepStatus.CompensationFailed,
      compensationStatus: CompensationStatus.Failed,
      error: retryable,
      finished: true,
    });
    assert.deepEqual(t.events, [
      { type: SagaEventType.CompensationFailed, step: 's1', attempt: 2, data: { error: retryable } },
      { type: SagaEventType.SagaFailed, data: { error: retryable } },
    ]);
  });

  it('fails non-retryably on its first attempt: the saga fails at once', () => {
    const def = definition([{ compensation: policy(5) }]);
    const t = decide(def, compensatingAt(def, 0, 1, { attempts: 1 }), failed(fatal));
    assert.equal(t.status, SagaStatus.Failed);
    assert.equal(t.delayMs, null);
    assert.equal(t.step?.status, StepStatus.CompensationFailed);
    assert.deepEqual(t.error, fatal);
  });
});

// ---------------------------------------------------------------------------------------------
// Cancel
// ---------------------------------------------------------------------------------------------

describe('cancel', () => {
  it('seen when a step succeeds: compensation starts with that step', () => {
    const def = definition([{ compensation: true }, { compensation: true }, { compensation: true }]);
    const saga = runningAt(def, 1, { cancelRequested: true });
    const t = decide(def, saga, succeeded({ x: 1 }));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.cancelSeen, true);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, 0);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.deepEqual(t.step, {
      index: 1,
      side: 'step',
      status: StepStatus.Completed,
      output: { x: 1 },
      error: null,
      finished: true,
    });
    assert.deepEqual(t.events, [
      { type: SagaEventType.StepCompleted, step: 's1', attempt: 1 },
      { type: SagaEventType.SagaCompensating, data: { cause: CANCELLED_ERROR } },
    ]);
  });

  it('seen when the last step succeeds: compensates instead of completing', () => {
    const def = definition([{ compensation: true }, { compensation: true }]);
    const t = decide(def, runningAt(def, 1, { cancelRequested: true }), succeeded());
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 1);
    assert.equal(t.output, undefined);
  });

  it('seen when a step without a compensation succeeds: the lower ones are compensated', () => {
    const def = definition([{ compensation: true }, {}, {}]);
    const t = decide(def, runningAt(def, 2, { cancelRequested: true }), succeeded());
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
    assert.equal(t.step?.status, StepStatus.Completed);
  });

  it('seen when a step succeeds with nothing to undo: compensated at once', () => {
    const def = definition([{}, { compensation: true }]);
    const saga = runningAt(def, 0, { cancelRequested: true });
    const t = decide(def, saga, succeeded());
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensated);
    assert.equal(t.delayMs, null);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.equal(t.step?.status, StepStatus.Completed);
    assert.deepEqual(eventTypes(t), [SagaEventType.StepCompleted, SagaEventType.SagaCompensated]);
  });

  it('cancelled outcome (the step never ran): compensates the steps below it, not it', () => {
    const def = definition([{ compensation: true }, { compensation: true }, { compensation: true }]);
    const saga = runningAt(def, 2, { cancelRequested: true });
    saga.steps[2] = stepSnap(2, { status: StepStatus.Pending });
    const t = decide(def, saga, { kind: 'cancelled' });
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, 0);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.equal(t.step, undefined);
    assert.deepEqual(t.events, [{ type: SagaEventType.SagaCompensating, data: { cause: CANCELLED_ERROR } }]);
  });

  it('cancelled outcome on the first step: compensated, nothing to undo', () => {
    const def = definition([{ compensation: true }]);
    const saga = runningAt(def, 0, { cancelRequested: true, attempts: 0 });
    saga.steps[0] = stepSnap(0);
    const t = decide(def, saga, { kind: 'cancelled' });
    assert.equal(t.status, SagaStatus.Compensated);
    assert.equal(t.delayMs, null);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.deepEqual(eventTypes(t), [SagaEventType.SagaCompensated]);
  });

  it('a step that finally fails with a cancel pending keeps its error; the saga reads as cancelled', () => {
    const def = definition([{ compensation: true }, {}]);
    const saga = runningAt(def, 1, { cancelRequested: true });
    const t = decide(def, saga, failed(fatal));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.deepEqual(t.step?.error, fatal);
    assert.deepEqual(t.events.at(-1), {
      type: SagaEventType.SagaCompensating,
      data: { cause: CANCELLED_ERROR },
    });
  });

  it('a retryable failure with a cancel pending compensates now instead of waiting to retry', () => {
    const def = definition([{ compensation: true }, { compensation: true }]);
    const saga = runningAt(def, 1, { cancelRequested: true, attempts: 1 });
    const t = decide(def, saga, failed(retryable));
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 0);
    assert.equal(t.delayMs, 0);
    assert.equal(t.step?.status, StepStatus.Failed);
  });

  it('a compensation cannot be reported as cancelled', () => {
    const def = definition([{ compensation: true }]);
    assert.throws(() => decide(def, compensatingAt(def, 0, 1), { kind: 'cancelled' }), /cannot be cancelled/);
  });

  it('a compensation succeeding with a cancel pending carries on unchanged', () => {
    const def = definition([{ compensation: true }, { compensation: true }]);
    const saga = compensatingAt(def, 1, 2, { cancelRequested: true });
    const t = decide(def, saga, succeeded());
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.stepIndex, 0);
    assert.equal('error' in t, false);
  });

  describe('cancelNow (no attempt in flight)', () => {
    const specs: StepSpec[] = [
      { compensation: true },
      {},
      { compensation: true },
      { compensation: true },
      {},
    ];
    const def = definition(specs);

    for (let k = 0; k <= def.steps.length - 1; k++) {
      it(`with ${k} completed step(s) compensates the latest compensable one`, () => {
        const saga: SagaSnapshot = {
          ...runningAt(def, k, { cancelRequested: true }),
          running: false,
          status: k === 0 ? SagaStatus.Pending : SagaStatus.Running,
        };
        saga.steps[k] = stepSnap(k);
        const t = cancelNow(def, saga);
        assertSameSeqAndCancel(t, saga);
        assert.equal(t.cancelSeen, true);
        assert.deepEqual(t.error, CANCELLED_ERROR);
        assert.equal(t.step, undefined);
        const expected = [...Array(k).keys()].reverse().find((i) => specs[i].compensation);
        if (expected === undefined) {
          assert.equal(t.status, SagaStatus.Compensated);
          assert.equal(t.delayMs, null);
          assert.deepEqual(eventTypes(t), [SagaEventType.SagaCompensated]);
        } else {
          assert.equal(t.status, SagaStatus.Compensating);
          assert.equal(t.phase, 'compensation');
          assert.equal(t.stepIndex, expected);
          assert.equal(t.delayMs, 0);
          assert.deepEqual(t.events, [
            { type: SagaEventType.SagaCompensating, data: { cause: CANCELLED_ERROR } },
          ]);
        }
      });
    }

    it('while the current step waits for a retry: that step failed, and is not compensated', () => {
      const saga: SagaSnapshot = { ...runningAt(def, 3, { cancelRequested: true }), running: false };
      saga.steps[3] = stepSnap(3, { status: StepStatus.Pending, attempts: 1 });
      const t = cancelNow(def, saga);
      assert.equal(t.stepIndex, 2);
      assert.equal(t.status, SagaStatus.Compensating);
      // Its last attempt's error stays: the patch does not name one.
      assert.deepEqual(t.step, { index: 3, side: 'step', status: StepStatus.Failed, finished: true });
    });

    it('while a step that compensates its own failure waits for a retry: it is compensated first', () => {
      const own = definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]);
      const saga: SagaSnapshot = { ...runningAt(own, 1, { cancelRequested: true }), running: false };
      saga.steps[1] = stepSnap(1, { status: StepStatus.Pending, attempts: 2 });
      const t = cancelNow(own, saga);
      assert.equal(t.status, SagaStatus.Compensating);
      assert.equal(t.stepIndex, 1);
      assert.deepEqual(t.error, CANCELLED_ERROR);
      assert.equal(t.step?.status, StepStatus.Failed);
      assert.deepEqual(t.started, { index: 1, side: 'compensation', step: 's1', attempt: 1 });
      const after = applyTransition(saga, t);
      assert.equal(after.steps[1].status, StepStatus.Compensating);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Operator retry of a dead-lettered saga
// ---------------------------------------------------------------------------------------------

describe('the next unit, claimed with the transition when it is due at once', () => {
  it('a step succeeds: the next step starts its first attempt', () => {
    const def = definition([{}, {}, {}]);
    const t = decide(def, runningAt(def, 0), succeeded());
    assert.deepEqual(t.started, { index: 1, side: 'step', step: 's1', attempt: 1 });
  });

  it('a retry waiting out its backoff is not claimed; one due at once is, as its next attempt', () => {
    const def = definition([{ retry: policy(3, { delay: 100 }) }, { retry: policy(3, { delay: 0 }) }]);
    assert.equal(decide(def, runningAt(def, 0), failed(retryable)).started, undefined);
    const t = decide(def, runningAt(def, 1, { attempts: 2 }), failed(retryable));
    assert.equal(t.delayMs, 0);
    assert.deepEqual(t.started, { index: 1, side: 'step', step: 's1', attempt: 3 });
  });

  it('a terminal transition claims nothing', () => {
    const def = definition([{}]);
    assert.equal(decide(def, runningAt(def, 0), succeeded()).started, undefined);
  });

  it('a step failing for good starts the compensation below, or its own with compensateOnFailure', () => {
    const def = definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]);
    assert.deepEqual(decide(def, runningAt(def, 1), failed(fatal)).started, {
      index: 1,
      side: 'compensation',
      step: 's1',
      attempt: 1,
    });
    const plain = definition([{ compensation: true }, { compensation: true }]);
    assert.deepEqual(decide(plain, runningAt(plain, 1), failed(fatal)).started, {
      index: 0,
      side: 'compensation',
      step: 's0',
      attempt: 1,
    });
  });

  it('an operator retry starts the compensation again at attempt 1', () => {
    const def = definition([{ compensation: true }, { compensation: policy(2) }]);
    const saga = compensatingAt(def, 1, 2, { attempts: 2 });
    saga.status = SagaStatus.Failed;
    saga.running = false;
    assert.deepEqual(retryFailed(def, saga).started, {
      index: 1,
      side: 'compensation',
      step: 's1',
      attempt: 1,
    });
  });

  it('a cancel with nothing in flight starts the compensation of the last completed step', () => {
    const def = definition([{ compensation: true }, {}]);
    const saga = { ...runningAt(def, 1), running: false, cancelRequested: true };
    saga.steps[1] = stepSnap(1);
    assert.deepEqual(cancelNow(def, saga).started, {
      index: 0,
      side: 'compensation',
      step: 's0',
      attempt: 1,
    });
  });

  it('a claimed step that a cancel stopped before it ran goes back to pending', () => {
    const def = definition([{ compensation: true }, {}]);
    const saga = runningAt(def, 1, { cancelRequested: true });
    const t = decide(def, saga, { kind: 'cancelled' });
    assert.deepEqual(t.step, { index: 1, side: 'step', status: StepStatus.Pending, finished: false });
    assert.equal(applyTransition(saga, t).steps[1].status, StepStatus.Pending);
  });

  it('a claimed retry that a cancel stopped before it ran: the step failed, and is compensated when it opted in', () => {
    const def = definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]);
    // Attempt 2 was claimed; attempt 1 ran and failed.
    const saga = runningAt(def, 1, { cancelRequested: true, attempts: 2 });
    const t = decide(def, saga, { kind: 'cancelled' });
    assert.deepEqual(t.step, { index: 1, side: 'step', status: StepStatus.Failed, finished: true });
    assert.equal(t.stepIndex, 1);
    assert.equal(t.phase, 'compensation');
    assert.deepEqual(t.error, CANCELLED_ERROR);
  });
});

describe('retryFailed', () => {
  function deadLettered(): { def: SagaDefinition; saga: SagaSnapshot } {
    const def = definition([
      { compensation: true },
      { compensation: policy(2, { type: 'fixed', delay: 30 }) },
      {},
    ]);
    const saga = compensatingAt(def, 1, 2, { attempts: 2, failedStep: true });
    saga.status = SagaStatus.Failed;
    saga.running = false;
    saga.steps[1] = {
      ...saga.steps[1],
      status: StepStatus.CompensationFailed,
      compensationStatus: CompensationStatus.Failed,
    };
    return { def, saga };
  }

  it('resumes the same compensation with a fresh attempt budget', () => {
    const { def, saga } = deadLettered();
    const t = retryFailed(def, saga);
    assertSameSeqAndCancel(t, saga);
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.phase, 'compensation');
    assert.equal(t.stepIndex, 1);
    assert.equal(t.delayMs, 0);
    assert.deepEqual(t.step, {
      index: 1,
      side: 'compensation',
      status: StepStatus.Compensating,
      compensationStatus: CompensationStatus.Pending,
      error: null,
      finished: false,
      resetAttempts: true,
    });
    assert.deepEqual(t.events, [{ type: SagaEventType.SagaRetried, step: 's1' }]);
  });

  it('after the retry, a failure is retried again and a success carries on below', () => {
    const { def, saga } = deadLettered();
    const resumed = claim(apply(saga, retryFailed(def, saga)));
    assert.equal(resumed.steps[1].compensationAttempts, 1);
    const again = decide(def, resumed, failed(retryable));
    assert.equal(again.status, SagaStatus.Compensating);
    assert.equal(again.stepIndex, 1);
    assert.equal(again.delayMs, 30);
    const done = decide(def, resumed, succeeded());
    assert.equal(done.status, SagaStatus.Compensating);
    assert.equal(done.stepIndex, 0);
  });

  it('keeps the cancel flag it saw', () => {
    const { def, saga } = deadLettered();
    saga.cancelRequested = true;
    assertSameSeqAndCancel(retryFailed(def, saga), saga);
  });
});

// ---------------------------------------------------------------------------------------------
// A small model of the store, to drive whole sagas through decide()
// ---------------------------------------------------------------------------------------------

/**
 * What the store's claim does: count the attempt and mark the unit running. A unit that the commit
 * scheduling it claimed already runs as it is (its job's first delivery).
 */
function claim(saga: SagaSnapshot): SagaSnapshot {
  if (saga.running) return saga;
  const steps = saga.steps.map((s) => ({ ...s }));
  const step = steps[saga.stepIndex];
  if (saga.phase === 'step') {
    if (!saga.cancelRequested) {
      step.status = StepStatus.Running;
      step.attempts += 1;
    }
  } else {
    step.status = StepStatus.Compensating;
    step.compensationStatus = CompensationStatus.Running;
    step.compensationAttempts += 1;
  }
  return { ...saga, running: true, steps };
}

/** What the store's commit does with a transition. */
function apply(saga: SagaSnapshot, t: Transition): SagaSnapshot {
  assert.equal(t.seq, saga.seq, 'a transition is decided at the snapshot seq');
  assert.equal(t.cancelSeen, saga.cancelRequested, 'a transition carries the cancel flag it saw');
  assert.equal(t.started !== undefined, t.delayMs === 0, 'a unit due at once is claimed by the commit');
  return applyTransition(saga, t);
}

function startOf(def: SagaDefinition): SagaSnapshot {
  return {
    id: 'saga-p',
    name: def.name,
    version: 1,
    status: SagaStatus.Pending,
    seq: 1,
    phase: 'step',
    stepIndex: 0,
    running: false,
    cancelRequested: false,
    input: {},
    steps: def.steps.map((s) => stepSnap(s.index)),
  };
}

const TERMINAL: SagaStatus[] = [SagaStatus.Completed, SagaStatus.Compensated, SagaStatus.Failed];

const stepSpecArb = fc.record({
  compensation: fc.boolean(),
  compensateOnFailure: fc.boolean(),
  attempts: fc.integer({ min: 1, max: 4 }),
  compensationAttempts: fc.integer({ min: 1, max: 4 }),
});

function definitionOf(
  specs: {
    compensation: boolean;
    compensateOnFailure: boolean;
    attempts: number;
    compensationAttempts: number;
  }[],
) {
  return definition(
    specs.map((s) => ({
      compensation: s.compensation ? policy(s.compensationAttempts, { delay: 10 }) : false,
      compensateOnFailure: s.compensateOnFailure,
      retry: policy(s.attempts, { delay: 10 }),
    })),
  );
}

describe('property: compensation is exact', () => {
  it('a failing step leads to compensating exactly the completed, compensable steps, in reverse order', () => {
    fc.assert(
      fc.property(
        fc.array(stepSpecArb, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.boolean(),
        (specs, failingSeed, exhaustRetries) => {
          const def = definitionOf(specs);
          const failing = failingSeed % def.steps.length;
          const cause: SagaError = exhaustRetries ? retryable : fatal;
          let saga = startOf(def);
          let t: Transition;

          // Forward: every step before `failing` succeeds on its first attempt.
          for (let i = 0; i < failing; i++) {
            saga = claim(saga);
            t = decide(def, saga, succeeded({ step: i }));
            assert.equal(t.stepIndex, i + 1);
            assert.equal(t.delayMs, 0);
            saga = apply(saga, t);
          }
          // The failing step fails until it gives up.
          for (;;) {
            saga = claim(saga);
            assert.equal(saga.stepIndex, failing);
            t = decide(def, saga, failed(cause));
            saga = apply(saga, t);
            if (saga.phase !== 'step' || TERMINAL.includes(saga.status)) break;
            assert.ok(exhaustRetries, 'a non-retryable failure is never retried');
            assert.equal(
              t.delayMs,
              backoffDelay(def.steps[failing].retry.backoff, saga.steps[failing].attempts),
            );
          }
          assert.equal(saga.steps[failing].attempts, exhaustRetries ? def.steps[failing].retry.attempts : 1);
          assert.deepEqual(t.error, cause);

          // Backward: every compensation succeeds.
          const visited: number[] = [];
          while (!TERMINAL.includes(saga.status)) {
            assert.equal(saga.phase, 'compensation');
            assert.equal(t.delayMs, 0);
            visited.push(saga.stepIndex);
            saga = claim(saga);
            t = decide(def, saga, succeeded(null));
            saga = apply(saga, t);
            assert.ok(visited.length <= def.steps.length, 'compensation terminates');
          }

          const expected = def.steps
            .filter(
              (s) => s.compensation && (s.index < failing || (s.index === failing && s.compensateOnFailure)),
            )
            .map((s) => s.index)
            .reverse();
          assert.deepEqual(visited, expected);
          for (let i = 1; i < visited.length; i++) assert.ok(visited[i] < visited[i - 1]);
          assert.equal(saga.status, SagaStatus.Compensated);
          assert.equal(t.delayMs, null);
          for (const s of saga.steps) {
            assert.equal(
              s.status,
              visited.includes(s.index)
                ? StepStatus.Compensated
                : s.index < failing
                  ? StepStatus.Completed
                  : s.index === failing
                    ? StepStatus.Failed
                    : StepStatus.Pending,
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('with random outcomes, cancels and operator retries, every saga ends and undoes exactly what completed', () => {
    const outcomeArb = fc.constantFrom<'ok' | 'retryable' | 'fatal'>(
      'ok',
      'ok',
      'ok',
      'retryable',
      'retryable',
      'fatal',
    );
    fc.assert(
      fc.property(
        fc.array(stepSpecArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.record({ outcome: outcomeArb, cancel: fc.integer({ min: 0, max: 15 }) }), {
          minLength: 200,
          maxLength: 200,
        }),
        (specs, script) => {
          const def = definitionOf(specs);
          let saga = startOf(def);
          const completedOrder: number[] = [];
          const compensatedOrder: number[] = [];
          let operatorRetries = 0;
          let cursor = 0;

          for (let guard = 0; ; guard++) {
            assert.ok(guard < 1000, 'the saga ends');
            if (TERMINAL.includes(saga.status)) {
              if (saga.status !== SagaStatus.Failed || operatorRetries >= 2) break;
              // The operator retries a dead-lettered saga.
              assert.equal(saga.phase, 'compensation');
              assert.equal(saga.steps[saga.stepIndex].status, StepStatus.CompensationFailed);
              operatorRetries++;
              saga = apply(saga, retryFailed(def, saga));
              continue;
            }
            const { outcome: kind, cancel } = script[cursor++ % script.length];
            // A cancel arrives now and then, while no attempt is in flight.
            if (!saga.cancelRequested && cancel === 0) {
              saga = { ...saga, cancelRequested: true };
              if (saga.phase === 'step') {
                saga = apply(saga, cancelNow(def, saga));
                continue;
              }
            }
            saga = claim(saga);
            const outcome: Outcome =
              saga.phase === 'step' && saga.cancelRequested
                ? { kind: 'cancelled' }
                : kind === 'ok'
                  ? succeeded({ at: saga.stepIndex })
                  : failed(kind === 'retryable' ? retryable : fatal);
            // Or a cancel arrives while the attempt runs: the worker decides again with the flag it finds.
            if (!saga.cancelRequested && cancel === 1) saga = { ...saga, cancelRequested: true };
            const t = decide(def, saga, outcome);
            if (outcome.kind === 'succeeded') {
              (saga.phase === 'step' ? completedOrder : compensatedOrder).push(saga.stepIndex);
            }
            if (
              t.delayMs !== null &&
              t.phase === saga.phase &&
              t.stepIndex === saga.stepIndex &&
              outcome.kind === 'failed'
            ) {
              // A retry of the same unit waits for that handler's own backoff.
              const handler =
                saga.phase === 'step' ? def.steps[saga.stepIndex] : def.steps[saga.stepIndex].compensation!;
              const attempt =
                saga.phase === 'step'
                  ? saga.steps[saga.stepIndex].attempts
                  : saga.steps[saga.stepIndex].compensationAttempts;
              assert.ok(attempt < handler.retry.attempts);
              assert.equal(t.delayMs, backoffDelay(handler.retry.backoff, attempt));
            }
            const before = saga.phase;
            saga = apply(saga, t);
            assert.ok(
              !(before === 'compensation' && saga.phase === 'step'),
              'no step runs once compensation began',
            );
          }

          // Forward steps ran in order; each completed once.
          assert.deepEqual(
            completedOrder,
            completedOrder.map((_, i) => i),
          );
          // Compensations: strictly decreasing, only of completed steps (or of a failed step that opted
          // in), each after its own step.
          for (let i = 1; i < compensatedOrder.length; i++) {
            assert.ok(compensatedOrder[i] < compensatedOrder[i - 1], `reverse order: ${compensatedOrder}`);
          }
          for (const index of compensatedOrder) {
            const stepDef = def.steps[index];
            assert.ok(stepDef.compensation, 'only steps with a compensation are compensated');
            assert.ok(
              completedOrder.includes(index) || stepDef.compensateOnFailure,
              `step ${index} was compensated without having completed`,
            );
          }
          if (saga.status === SagaStatus.Completed) {
            assert.equal(completedOrder.length, def.steps.length);
            assert.deepEqual(compensatedOrder, []);
          }
          if (saga.status === SagaStatus.Compensated) {
            // Every completed, compensable step was undone.
            const owed = def.steps
              .filter((s) => s.compensation && completedOrder.includes(s.index))
              .map((s) => s.index);
            for (const index of owed)
              assert.ok(compensatedOrder.includes(index), `step ${index} was not undone`);
            const failedStep = saga.steps.find((s) => s.status === StepStatus.Failed);
            if (
              failedStep &&
              def.steps[failedStep.index].compensateOnFailure &&
              def.steps[failedStep.index].compensation
            ) {
              assert.fail(`step ${failedStep.index} opted in to compensation on failure but stays failed`);
            }
          }
          if (saga.status === SagaStatus.Failed) {
            assert.equal(saga.steps[saga.stepIndex].status, StepStatus.CompensationFailed);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
