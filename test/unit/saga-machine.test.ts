import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backoffDelay } from '../../src/saga/definition/retry-policy.js';
import type { SagaError } from '../../src/saga/errors/saga-error.js';
import { CANCELLED_ERROR, DEADLINE_ERROR, decide } from '../../src/saga/machine/decide.js';
import { initialUnits } from '../../src/saga/machine/new-saga.js';
import { SagaEventType } from '../../src/saga/machine/saga-events.js';
import { UnitKind, unitKey, UnitStatus } from '../../src/saga/machine/saga-snapshot.js';
import type { Outcome, Transition } from '../../src/saga/machine/transition.js';
import { SagaStatus } from '../../src/saga/saga-status.js';
import { definition, policy, SimulatedSaga, type StepSpec } from '../support/machine/simulated-saga.js';

const ok = (output: unknown = { ok: true }): Outcome => ({ kind: 'succeeded', output });
const fail = (error: SagaError): Outcome => ({ kind: 'failed', error });
const retryable: SagaError = { name: 'Flaky', message: 'try again', retryable: true };
const fatal: SagaError = { name: 'NonRetryableError', message: 'declined', retryable: false };
const s = unitKey.step;
const c = unitKey.compensation;

function types(t: Transition): string[] {
  return t.events.map((e) => e.type);
}

/** Keys of the units a transition claims with its commit. */
function started(t: Transition): string[] {
  return t.units.filter((u) => u.start).map((u) => u.key);
}

/** Runs every due unit of the saga to success, one at a time, until none is due. */
function runAll(sim: SimulatedSaga): void {
  for (let due = sim.due(); due.length > 0; due = sim.due()) {
    sim.claim(due[0].key);
    sim.finish(due[0].key, ok({ step: due[0].key }));
  }
}

describe('a linear saga', () => {
  it('starts pending with its first step due, the others not yet', () => {
    const sim = new SimulatedSaga(definition([{}, {}, {}]));
    assert.equal(sim.saga.status, SagaStatus.Pending);
    assert.deepEqual(
      sim.saga.units.map((u) => [u.key, u.status, u.scheduled]),
      [
        [s(0), UnitStatus.Pending, true],
        [s(1), UnitStatus.Pending, false],
        [s(2), UnitStatus.Pending, false],
      ],
    );
  });

  it('runs one step at a time; each completion starts the next with the same commit', () => {
    const sim = new SimulatedSaga(definition([{}, {}, {}]));
    sim.claim(s(0));
    assert.equal(sim.saga.status, SagaStatus.Running);
    const t = sim.finish(s(0), ok({ a: 1 }));
    assert.equal(t.status, SagaStatus.Running);
    assert.deepEqual(t.events, [
      { type: SagaEventType.StepCompleted, step: 's0', attempt: 1 },
      { type: SagaEventType.StepStarted, step: 's1', attempt: 1 },
    ]);
    assert.deepEqual(started(t), [s(1)]);
    assert.deepEqual(
      t.units.find((u) => u.key === s(0)),
      {
        key: s(0),
        kind: UnitKind.Step,
        step: 0,
        name: 's0',
        status: UnitStatus.Completed,
        output: { a: 1 },
        error: null,
        ended: true,
        dueInMs: null,
      },
    );
    assert.deepEqual(
      t.units.find((u) => u.key === s(1)),
      {
        key: s(1),
        kind: UnitKind.Step,
        step: 1,
        name: 's1',
        status: UnitStatus.Running,
        dueInMs: 0,
        start: true,
      },
    );
    assert.equal(sim.unit(s(1)).attempts, 1);
  });

  it('completes with every step output once the last step completes', () => {
    const sim = new SimulatedSaga(definition([{}, {}]));
    runAll(sim);
    const last = sim.transitions.at(-1)!;
    assert.equal(last.status, SagaStatus.Completed);
    assert.deepEqual(last.output, { s0: { step: s(0) }, s1: { step: s(1) } });
    assert.deepEqual(types(last), [SagaEventType.StepCompleted, SagaEventType.SagaCompleted]);
    assert.equal(sim.due().length, 0);
  });

  it('retries a retryable failure after its backoff, then fails it for good when attempts run out', () => {
    const retry = policy(3, { delay: 100 });
    const sim = new SimulatedSaga(definition([{ compensation: true }, { retry }]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    for (let attempt = 1; attempt <= 2; attempt++) {
      const t = sim.finish(s(1), fail(retryable));
      const retryInMs = backoffDelay(retry.backoff, attempt, () => 0);
      assert.deepEqual(t.events, [
        { type: SagaEventType.StepFailed, step: 's1', attempt, data: { error: retryable, retryInMs } },
      ]);
      assert.deepEqual(t.units, [
        {
          key: s(1),
          kind: UnitKind.Step,
          step: 1,
          name: 's1',
          status: UnitStatus.Pending,
          error: retryable,
          dueInMs: retryInMs,
        },
      ]);
      assert.equal(t.status, SagaStatus.Running);
      sim.claim(s(1));
      assert.equal(sim.unit(s(1)).attempts, attempt + 1);
    }
    const t = sim.finish(s(1), fail(retryable));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.deepEqual(t.error, retryable);
    assert.deepEqual(types(t), [
      SagaEventType.StepFailed,
      SagaEventType.SagaCompensating,
      SagaEventType.CompensationStarted,
    ]);
    assert.deepEqual(started(t), [c(0)]);
  });

  it('fails a non-retryable error at once', () => {
    const sim = new SimulatedSaga(definition([{}, {}]));
    sim.claim(s(0));
    const t = sim.finish(s(0), fail(fatal));
    assert.equal(sim.unit(s(0)).status, UnitStatus.Failed);
    assert.equal(t.status, SagaStatus.Compensated);
    assert.deepEqual(t.error, fatal);
    assert.deepEqual(types(t), [SagaEventType.StepFailed, SagaEventType.SagaCompensated]);
  });

  it('compensates the completed steps one at a time in reverse order, passing over those without a compensation', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}, { compensation: true }, {}]));
    for (const i of [0, 1, 2]) {
      sim.claim(s(i));
      sim.finish(s(i), ok());
    }
    let t = sim.finish(s(3), fail(fatal));
    assert.deepEqual(started(t), [c(2)]);
    t = sim.finish(c(2), ok());
    assert.deepEqual(types(t), [SagaEventType.CompensationCompleted, SagaEventType.CompensationStarted]);
    assert.deepEqual(started(t), [c(0)]);
    t = sim.finish(c(0), ok());
    assert.equal(t.status, SagaStatus.Compensated);
    assert.deepEqual(types(t), [SagaEventType.CompensationCompleted, SagaEventType.SagaCompensated]);
  });

  it('compensates a step that opted in to compensating its own failure, first', () => {
    const sim = new SimulatedSaga(
      definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]),
    );
    sim.claim(s(0));
    sim.finish(s(0), ok());
    const t = sim.finish(s(1), fail(fatal));
    assert.deepEqual(started(t), [c(1)]);
    assert.deepEqual(started(sim.finish(c(1), ok())), [c(0)]);
  });

  it('retries a compensation with its own policy; exhausted, the saga ends failed (dead letter)', () => {
    const sim = new SimulatedSaga(
      definition([{ compensation: policy(2, { type: 'fixed', delay: 30 }) }, {}]),
    );
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.finish(s(1), fail(fatal));
    let t = sim.finish(c(0), fail(retryable));
    assert.deepEqual(t.units, [
      {
        key: c(0),
        kind: UnitKind.Compensation,
        step: 0,
        name: 's0',
        status: UnitStatus.Pending,
        error: retryable,
        dueInMs: 30,
      },
    ]);
    assert.deepEqual(t.events[0].data, { error: retryable, retryInMs: 30 });
    sim.claim(c(0));
    t = sim.finish(c(0), fail(retryable));
    assert.equal(t.status, SagaStatus.Failed);
    assert.deepEqual(t.error, retryable);
    assert.deepEqual(types(t), [SagaEventType.CompensationFailed, SagaEventType.SagaFailed]);
    assert.equal(sim.due().length, 0);
  });

  it("an operator's retry resumes a dead letter at its failed compensation, with a fresh budget", () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, { compensation: policy(1) }, {}]));
    for (const i of [0, 1]) {
      sim.claim(s(i));
      sim.finish(s(i), ok());
    }
    sim.finish(s(2), fail(fatal));
    sim.finish(c(1), fail(retryable));
    assert.equal(sim.saga.status, SagaStatus.Failed);
    const t = sim.input({ kind: 'retry' });
    assert.equal(t.status, SagaStatus.Compensating);
    assert.deepEqual(t.events, [
      { type: SagaEventType.SagaRetried, step: 's1' },
      { type: SagaEventType.CompensationStarted, step: 's1', attempt: 1 },
    ]);
    assert.deepEqual(started(t), [c(1)]);
    assert.equal(sim.unit(c(1)).attempts, 1);
    assert.deepEqual(started(sim.finish(c(1), ok())), [c(0)]);
    assert.equal(sim.finish(c(0), ok()).status, SagaStatus.Compensated);
  });
});

describe('a parallel group', () => {
  const specs: StepSpec[] = [
    { compensation: true },
    { compensation: true, group: 'g' },
    { compensation: true, group: 'g' },
    { compensation: true, group: 'g', compensateOnFailure: true },
    { compensation: true },
  ];

  function atGroup(): SimulatedSaga {
    const sim = new SimulatedSaga(definition(specs));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    return sim;
  }

  it('starts every step of the group with one commit', () => {
    const sim = atGroup();
    assert.deepEqual(started(sim.transitions.at(-1)!), [s(1), s(2), s(3)]);
  });

  it('starts the next step only when every step of the group has completed', () => {
    const sim = atGroup();
    assert.deepEqual(started(sim.finish(s(2), ok())), []);
    assert.deepEqual(started(sim.finish(s(3), ok())), []);
    assert.deepEqual(started(sim.finish(s(1), ok())), [s(4)]);
  });

  it('a sibling between attempts holds the next step back', () => {
    const sim = atGroup();
    sim.finish(s(1), fail(retryable));
    sim.finish(s(2), ok());
    assert.deepEqual(started(sim.finish(s(3), ok())), []);
    sim.claim(s(1));
    assert.deepEqual(started(sim.finish(s(1), ok())), [s(4)]);
  });

  it('a final failure aborts the running siblings and compensates nothing until their outcomes are in', () => {
    const sim = atGroup();
    sim.finish(s(2), ok());
    const t = sim.finish(s(1), fail(fatal));
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.abortRunning, true);
    assert.deepEqual(started(t), []);
    assert.deepEqual(types(t), [SagaEventType.StepFailed, SagaEventType.SagaCompensating]);
    // s3 completes anyway: it is compensated too, first, as the last to complete.
    const after = sim.finish(s(3), ok());
    assert.deepEqual(types(after), [SagaEventType.StepCompleted, SagaEventType.CompensationStarted]);
    assert.deepEqual(started(after), [c(3)]);
    assert.deepEqual(started(sim.finish(c(3), ok())), [c(2)]);
    assert.deepEqual(started(sim.finish(c(2), ok())), [c(0)]);
    assert.equal(sim.finish(c(0), ok()).status, SagaStatus.Compensated);
  });

  it('compensates in the reverse order of completion, not of declaration', () => {
    const sim = atGroup();
    sim.finish(s(3), ok());
    sim.finish(s(1), ok());
    sim.claim(s(2));
    const t = sim.finish(s(2), fail(fatal));
    assert.deepEqual(started(t), [c(1)]);
    assert.deepEqual(started(sim.finish(c(1), ok())), [c(3)]);
    assert.deepEqual(started(sim.finish(c(3), ok())), [c(0)]);
  });

  it('a sibling waiting out a backoff when another fails will not run again: failed, and compensated if it opted in', () => {
    const sim = atGroup();
    sim.finish(s(3), fail(retryable));
    sim.finish(s(2), ok());
    const t = sim.finish(s(1), fail(fatal));
    assert.equal(sim.unit(s(3)).status, UnitStatus.Failed);
    assert.equal(sim.unit(s(3)).scheduled, false);
    assert.equal(t.abortRunning, false);
    // s3 and s1 ended with this transition; s3 is compensated (it opted in), then s2, then s0.
    assert.deepEqual(started(t), [c(3)]);
    assert.deepEqual(started(sim.finish(c(3), ok())), [c(2)]);
  });
});

describe('a step with a delay', () => {
  it('as a first step: due its delay after the start, not at once', () => {
    const def = definition([{ delayMs: 5000 }, {}]);
    const units = initialUnits(def, {}, { startInMs: 200 });
    assert.deepEqual(
      units.map((u) => [u.key, u.status, u.dueInMs]),
      [
        [s(0), UnitStatus.Pending, 5200],
        [s(1), UnitStatus.Pending, null],
      ],
    );
  });

  it('after another: scheduled its delay after the previous step completed, claimed when due', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, { delayMs: 3000 }, {}]));
    sim.claim(s(0));
    const t = sim.finish(s(0), ok());
    assert.deepEqual(started(t), []);
    assert.deepEqual(types(t), [SagaEventType.StepCompleted]);
    assert.deepEqual(
      t.units.find((u) => u.key === s(1)),
      { key: s(1), kind: UnitKind.Step, step: 1, name: 's1', status: UnitStatus.Pending, dueInMs: 3000 },
    );
    assert.equal(t.status, SagaStatus.Running);
    sim.claim(s(1));
    assert.equal(sim.unit(s(1)).attempts, 1);
    assert.deepEqual(started(sim.finish(s(1), ok())), [s(2)]);
  });

  it('a retry of a delayed step waits out its backoff only, not the delay again', () => {
    const retry = policy(3, { delay: 100 });
    const sim = new SimulatedSaga(definition([{}, { delayMs: 3000, retry }]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.claim(s(1));
    const t = sim.finish(s(1), fail(retryable));
    assert.equal(
      t.units.find((u) => u.key === s(1))!.dueInMs,
      backoffDelay(retry.backoff, 1, () => 0),
    );
  });

  it('each delayed step of a parallel group is due on its own delay; the others start at once', () => {
    const sim = new SimulatedSaga(definition([{}, { group: 'g', delayMs: 1000 }, { group: 'g' }]));
    sim.claim(s(0));
    const t = sim.finish(s(0), ok());
    assert.deepEqual(started(t), [s(2)]);
    assert.equal(t.units.find((u) => u.key === s(1))!.dueInMs, 1000);
  });

  it('cancelled while it sleeps: it never runs, and what completed is compensated', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, { delayMs: 3000 }]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    const t = sim.cancel();
    assert.deepEqual(started(t), [c(0)]);
    assert.equal(sim.unit(s(1)).scheduled, false);
    assert.equal(sim.unit(s(1)).status, UnitStatus.Pending);
  });
});

describe('cancel', () => {
  it('before the saga started: compensated, nothing to undo', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    const t = sim.cancel();
    assert.equal(t.status, SagaStatus.Compensated);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.deepEqual(types(t), [SagaEventType.SagaCompensated]);
    assert.equal(sim.unit(s(0)).scheduled, false);
    assert.equal(sim.unit(s(0)).status, UnitStatus.Pending);
  });

  it('while a step runs: its signal is aborted, its outcome awaited, then everything completed is compensated', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, { compensation: true }, {}]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    const t = sim.cancel();
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.abortRunning, true);
    assert.deepEqual(started(t), []);
    assert.deepEqual(t.events, [{ type: SagaEventType.SagaCompensating, data: { cause: CANCELLED_ERROR } }]);
    const after = sim.finish(s(1), ok());
    assert.deepEqual(started(after), [c(1)]);
  });

  it('a step that gives up on the cancel keeps its error; the saga reads as cancelled', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.saga = { ...sim.saga, cancelRequested: true };
    const t = sim.finish(s(1), fail(fatal));
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.deepEqual(t.units.find((u) => u.key === s(1))?.error, fatal);
    assert.deepEqual(t.events.at(-2), {
      type: SagaEventType.SagaCompensating,
      data: { cause: CANCELLED_ERROR },
    });
  });

  it('a retryable failure with a cancel pending compensates now instead of waiting to retry', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.saga = { ...sim.saga, cancelRequested: true };
    const t = sim.finish(s(1), fail(retryable));
    assert.equal(sim.unit(s(1)).status, UnitStatus.Failed);
    assert.deepEqual(started(t), [c(0)]);
  });

  it('seen when the last step succeeds: compensates instead of completing', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, { compensation: true }]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.saga = { ...sim.saga, cancelRequested: true };
    const t = sim.finish(s(1), ok());
    assert.equal(t.status, SagaStatus.Compensating);
    assert.equal(t.output, undefined);
    assert.deepEqual(started(t), [c(1)]);
  });

  it('between two attempts: the step failed, and is compensated first when it compensates its own failure', () => {
    const sim = new SimulatedSaga(
      definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]),
    );
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.finish(s(1), fail(retryable));
    const t = sim.cancel();
    assert.equal(sim.unit(s(1)).status, UnitStatus.Failed);
    assert.deepEqual(started(t), [c(1)]);
  });

  it('between two attempts of a step without that opt-in: failed, not compensated', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, { compensation: true }]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.finish(s(1), fail(retryable));
    assert.deepEqual(started(sim.cancel()), [c(0)]);
    assert.equal(sim.unit(s(1)).status, UnitStatus.Failed);
  });

  it('a unit claimed by a commit but not run yet: not run; its earlier attempts decide as between attempts', () => {
    const first = new SimulatedSaga(
      definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]),
    );
    first.claim(s(0));
    first.finish(s(0), ok()); // claims s1's first attempt
    first.cancel();
    first.notRun(s(1)); // the worker finds the saga compensating
    assert.equal(first.unit(s(1)).status, UnitStatus.Pending, 'never ran');
    assert.equal(first.unit(c(1)), undefined);

    const retried = new SimulatedSaga(
      definition([{ compensation: true }, { compensation: true, compensateOnFailure: true }]),
    );
    retried.claim(s(0));
    retried.finish(s(0), ok());
    retried.finish(s(1), fail(retryable));
    retried.claim(s(1)); // attempt 2 claimed, then the cancel
    retried.saga = { ...retried.saga, status: SagaStatus.Compensating };
    const t = retried.notRun(s(1));
    assert.equal(retried.unit(s(1)).status, UnitStatus.Failed, 'attempt 1 ran');
    assert.deepEqual(started(t), [c(1)]);
  });

  it('while compensating: changes nothing', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    sim.claim(s(0));
    sim.finish(s(0), ok());
    sim.finish(s(1), fail(fatal));
    const t = sim.cancel();
    assert.deepEqual(t.units, []);
    assert.deepEqual(t.events, []);
    assert.equal(t.status, SagaStatus.Compensating);
  });
});

describe('deadline', () => {
  it('when due, cancels the saga with DeadlineExceeded and compensates', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}], { deadlineMs: 1000 }), {
      deadline: true,
    });
    assert.equal(sim.unit(unitKey.control).status, UnitStatus.Waiting);
    sim.claim(s(0));
    sim.finish(s(0), ok());
    const t = sim.input({ kind: 'due', unit: unitKey.control });
    assert.equal(t.status, SagaStatus.Compensating);
    assert.deepEqual(t.error, DEADLINE_ERROR);
    assert.equal(t.abortRunning, true);
    assert.equal(sim.unit(unitKey.control).status, UnitStatus.Completed);
  });

  it('is no longer due once the saga ends', () => {
    const sim = new SimulatedSaga(definition([{}], { deadlineMs: 1000 }), { deadline: true });
    runAll(sim);
    assert.equal(sim.saga.status, SagaStatus.Completed);
    assert.equal(sim.unit(unitKey.control).scheduled, false);
  });
});

// ---------------------------------------------------------------------------------------------
// Random interleavings
// ---------------------------------------------------------------------------------------------

const stepSpec = fc.record({
  compensation: fc.boolean(),
  compensateOnFailure: fc.boolean(),
  group: fc.constantFrom(undefined, 'g', 'h'),
  // A delayed step is scheduled rather than started when reached: any interleaving must hold with it.
  delayMs: fc.constantFrom(undefined, undefined, 500),
});

/** Whatever may happen next: an outcome for some unit in flight, a cancel, or the deadline. */
const action = fc.record({
  pick: fc.nat(),
  outcome: fc.constantFrom('ok', 'retryable', 'fatal'),
  interrupt: fc.constantFrom(undefined, undefined, undefined, undefined, 'cancel', 'deadline'),
});

describe('property: random interleavings', () => {
  it('every saga ends; each completion is recorded once; compensation is exact', () => {
    fc.assert(
      fc.property(
        fc.array(stepSpec, { minLength: 1, maxLength: 6 }),
        fc.array(action, { maxLength: 80 }),
        (specs, actions) => {
          const def = definition(specs, { deadlineMs: 1000 });
          const sim = new SimulatedSaga(def, { deadline: true });
          const completedOrder: number[] = [];
          const compensatedOrder: number[] = [];
          const outcome = (kind: string): Outcome =>
            kind === 'ok' ? ok() : fail(kind === 'fatal' ? fatal : retryable);

          const step = (a: { pick: number; outcome: string; interrupt?: string }) => {
            if (a.interrupt === 'cancel' && !sim.terminal) sim.cancel();
            if (a.interrupt === 'deadline' && sim.unit(unitKey.control)?.scheduled)
              sim.input({ kind: 'due', unit: unitKey.control });
            const due = sim.due();
            if (due.length === 0) return;
            const unit = due[a.pick % due.length];
            // Nothing is compensated while a step of the same saga is still running (invariant 4).
            if (unit.kind === UnitKind.Compensation) {
              assert.ok(
                !sim.saga.units.some((u) => u.kind === UnitKind.Step && u.status === UnitStatus.Running),
              );
            }
            const stopped = sim.saga.status === SagaStatus.Compensating;
            sim.claim(unit.key);
            const before = sim.unit(unit.key);
            // A step of a saga that stopped going forward: the worker either ran it before the
            // stop, or takes its job after the stop and does not run it.
            const t =
              unit.kind === UnitKind.Step && stopped && a.pick % 2 === 1
                ? sim.notRun(unit.key)
                : sim.finish(
                    unit.key,
                    unit.kind === UnitKind.Compensation && a.outcome === 'fatal' ? ok() : outcome(a.outcome),
                  );
            const after = sim.unit(unit.key);
            if (
              unit.kind === UnitKind.Step &&
              after.status === UnitStatus.Completed &&
              before.status !== UnitStatus.Completed
            )
              completedOrder.push(unit.step!);
            if (unit.kind === UnitKind.Compensation && after.status === UnitStatus.Completed)
              compensatedOrder.push(unit.step!);
            assert.ok(t.seq + 1 === sim.saga.seq);
          };
          for (const a of actions) step(a);
          // Then let every unit succeed until the saga ends.
          for (let i = 0; !sim.terminal && i < 500; i++) step({ pick: 0, outcome: 'ok' });
          assert.ok(sim.terminal, `saga stuck in ${sim.saga.status}`);

          // Each step completed at most once, each compensation ran at most once.
          assert.equal(new Set(completedOrder).size, completedOrder.length);
          assert.equal(new Set(compensatedOrder).size, compensatedOrder.length);
          const failedOptedIn = def.steps
            .filter(
              (st) =>
                st.compensation &&
                st.compensateOnFailure &&
                sim.unit(s(st.index)).status === UnitStatus.Failed,
            )
            .map((st) => st.index);
          if (sim.saga.status === SagaStatus.Completed) {
            assert.equal(completedOrder.length, def.steps.length);
            assert.deepEqual(compensatedOrder, []);
          }
          if (sim.saga.status === SagaStatus.Compensated) {
            // Exactly the completed steps with a compensation (and the failed ones that opted in) were
            // undone, in the reverse order of completion.
            const expected = sim.saga.units
              .filter(
                (u) =>
                  u.kind === UnitKind.Step &&
                  def.steps[u.step!].compensation &&
                  (u.status === UnitStatus.Completed || failedOptedIn.includes(u.step!)),
              )
              .sort((a, b) => b.endedAt! - a.endedAt! || b.step! - a.step!)
              .map((u) => u.step!);
            assert.deepEqual(compensatedOrder, expected);
          }
          // Nothing is left due once the saga has ended.
          assert.deepEqual(
            sim.saga.units.filter((u) => u.scheduled).map((u) => u.key),
            [],
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('decide is pure', () => {
  it('does not change the snapshot it is given', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    sim.claim(s(0));
    const frozen = JSON.stringify(sim.saga);
    decide(sim.def, sim.saga, { kind: 'outcome', unit: s(0), outcome: fail(fatal) });
    assert.equal(JSON.stringify(sim.saga), frozen);
  });
});

describe('property: random interleavings with signals and child sagas', () => {
  const spec = fc.record({
    compensation: fc.boolean(),
    compensateOnFailure: fc.boolean(),
    group: fc.constantFrom(undefined, 'g'),
    kind: fc.constantFrom<StepSpec['kind']>('task', 'task', 'wait', 'child'),
  });
  const event = fc.record({
    what: fc.constantFrom(
      'outcome',
      'outcome',
      'outcome',
      'signal',
      'timeout',
      'child',
      'cancel',
      'deadline',
    ),
    pick: fc.nat(),
    ok: fc.boolean(),
  });

  it('every saga ends, its children end, compensation waits for running steps and children, and is exact', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 5 }),
        fc.array(event, { maxLength: 60 }),
        (specs, events) => {
          const def = definition(specs, { deadlineMs: 1000 });
          const sim = new SimulatedSaga(def, { deadline: true });
          let childIds = 0;

          const units = () => sim.saga.units;
          const busyForward = () =>
            units().some(
              (u) =>
                u.kind === UnitKind.Step &&
                (u.status === UnitStatus.Running ||
                  (u.status === UnitStatus.Waiting &&
                    u.child !== null &&
                    !['completed', 'compensated', 'failed'].includes(
                      sim.children.get(u.child.id) as string,
                    ))),
            );

          const apply = (e: { what: string; pick: number; ok: boolean }) => {
            if (sim.terminal && e.what !== 'child') return;
            if (e.what === 'cancel') return void sim.cancel();
            if (e.what === 'deadline') {
              if (sim.unit(unitKey.control)?.scheduled) sim.input({ kind: 'due', unit: unitKey.control });
              return;
            }
            if (e.what === 'signal') {
              const waits = def.steps.filter((s) => s.kind === 'wait');
              if (waits.length === 0) return;
              sim.input({
                kind: 'signal',
                name: waits[e.pick % waits.length].signal!.name,
                payload: { ok: e.ok },
              });
              return;
            }
            if (e.what === 'timeout') {
              const timed = units().filter(
                (u) => u.kind === UnitKind.Step && u.status === UnitStatus.Waiting && u.scheduled,
              );
              if (timed.length) sim.input({ kind: 'due', unit: timed[e.pick % timed.length].key });
              return;
            }
            if (e.what === 'child') {
              const going = [...sim.children.keys()];
              if (going.length) sim.endChild(going[e.pick % going.length], e.ok);
              return;
            }
            const due = sim.due();
            if (due.length === 0) return;
            const unit = due[e.pick % due.length];
            const stopped = sim.saga.status === SagaStatus.Compensating;
            sim.claim(unit.key);
            const step = def.steps[unit.step!];
            const compensating = unit.kind === UnitKind.Compensation;
            if (compensating) assert.ok(!busyForward(), 'a compensation started while a step still ran');
            let outcome: Outcome = e.ok ? ok() : fail(e.pick % 3 === 0 ? fatal : retryable);
            if (compensating) outcome = ok();
            else if (stopped && e.pick % 2 === 1) outcome = { kind: 'cancelled' };
            else if (step.kind === 'child' && e.ok)
              outcome = {
                kind: 'spawned',
                child: { id: `child-${++childIds}`, name: 'child', version: 1, record: null },
              };
            sim.finish(unit.key, outcome);
          };

          for (const e of events) apply(e);
          // Then everything goes well until the saga and its children have ended.
          for (
            let i = 0;
            i < 400 &&
            !(
              sim.terminal &&
              [...sim.children.values()].every((s) =>
                ['completed', 'compensated', 'failed'].includes(s as string),
              )
            );
            i++
          ) {
            const waiting = units().find(
              (u) => u.kind === UnitKind.Step && u.status === UnitStatus.Waiting && !u.child,
            );
            const going = [...sim.children.entries()].find(
              ([, s]) => !['completed', 'compensated', 'failed'].includes(s as string),
            );
            if (sim.due().length) apply({ what: 'outcome', pick: 0, ok: true });
            else if (waiting)
              sim.input({
                kind: 'signal',
                name: def.steps[waiting.step!].signal!.name,
                payload: { ok: true },
              });
            else if (going) sim.endChild(going[0], true);
            else break;
          }
          assert.ok(sim.terminal, `saga stuck in ${sim.saga.status}: ${JSON.stringify(units())}`);
          for (const [id, status] of sim.children) {
            assert.ok(
              ['completed', 'compensated', 'failed'].includes(status as string),
              `child ${id} is ${status}`,
            );
          }
          // No step is left waiting for a child that ended.
          assert.ok(
            !units().some((u) => u.kind !== UnitKind.Control && u.status === UnitStatus.Waiting),
            JSON.stringify(units()),
          );
          // Each step completed at most once.
          const completions = sim.events
            .filter((e) => e.type === SagaEventType.StepCompleted)
            .map((e) => e.step);
          assert.equal(new Set(completions).size, completions.length);
          if (sim.saga.status === SagaStatus.Compensated) {
            const undoable = (u: (typeof sim.saga.units)[number]) => {
              const st = def.steps[u.step!];
              return (
                (st.compensation !== undefined || st.kind === 'child') &&
                (u.status === UnitStatus.Completed ||
                  (u.status === UnitStatus.Failed && st.compensateOnFailure))
              );
            };
            const expected = units()
              .filter((u) => u.kind === UnitKind.Step && undoable(u))
              .sort((a, b) => b.endedAt! - a.endedAt! || b.step! - a.step!)
              .map((u) => u.step!);
            const compensatedOrder = sim.events
              .filter((e) => e.type === SagaEventType.CompensationCompleted)
              .map((e) => def.steps.find((st) => st.name === e.step)!.index);
            assert.deepEqual(compensatedOrder, expected);
            // The children of compensated child steps were compensated.
            for (const u of units().filter((x) => x.kind === UnitKind.Step && x.child)) {
              const status = sim.children.get(u.child!.id);
              if (u.status === UnitStatus.Completed) assert.equal(status, SagaStatus.Compensated);
            }
          }
          if (sim.saga.status === SagaStatus.Completed) {
            for (const status of sim.children.values()) assert.equal(status, SagaStatus.Completed);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("an operator's retry of a parent whose child's compensation failed", () => {
  /** A parent (child step, then a task that fails) whose child then failed to compensate: a dead letter. */
  function deadLetteredParent(): SimulatedSaga {
    const sim = new SimulatedSaga(definition([{ kind: 'child' }, {}]));
    sim.claim(s(0));
    sim.finish(s(0), { kind: 'spawned', child: { id: 'child-1', name: 'child', version: 1, record: null } });
    sim.endChild('child-1', true);
    sim.finish(s(1), fail(fatal));
    sim.endChild('child-1', false);
    assert.equal(sim.saga.status, SagaStatus.Failed);
    return sim;
  }

  it('fails again at once while the child is still a dead letter (retry the child first)', () => {
    const sim = deadLetteredParent();
    const t = sim.input({ kind: 'retry' });
    assert.equal(t.status, SagaStatus.Failed);
    assert.equal(t.error?.name, 'ChildSagaFailed');
    assert.deepEqual(t.stopChildren, []);
  });

  it('completes that compensation at once when the child was retried and compensated before', () => {
    const sim = deadLetteredParent();
    sim.children.set('child-1', SagaStatus.Compensated);
    sim.saga = {
      ...sim.saga,
      units: sim.saga.units.map((u) =>
        u.child ? { ...u, child: { ...u.child, status: SagaStatus.Compensated } } : u,
      ),
    };
    const t = sim.input({ kind: 'retry' });
    assert.equal(t.status, SagaStatus.Compensated);
    assert.deepEqual(
      t.events.map((e) => e.type),
      [
        SagaEventType.SagaRetried,
        SagaEventType.CompensationStarted,
        SagaEventType.CompensationCompleted,
        SagaEventType.SagaCompensated,
      ],
    );
  });

  it('asks a child that is not done to compensate, and waits for it', () => {
    const sim = deadLetteredParent();
    sim.children.set('child-1', SagaStatus.Completed);
    sim.saga = {
      ...sim.saga,
      units: sim.saga.units.map((u) =>
        u.child ? { ...u, child: { ...u.child, status: SagaStatus.Completed } } : u,
      ),
    };
    const t = sim.input({ kind: 'retry' });
    assert.equal(t.status, SagaStatus.Compensating);
    assert.deepEqual(t.stopChildren, ['child-1']);
  });
});

describe('a limited handler', () => {
  /** s0 → s1, where s1 and its compensation are limited, and s2 fails. */
  function limitedSaga(): SimulatedSaga {
    const def = definition([{ compensation: true }, { compensation: true }, {}]);
    def.steps[1].limits = { concurrency: 20, rateLimit: { max: 50, durationMs: 1000 } };
    def.steps[1].compensation!.limits = { concurrency: 1 };
    return new SimulatedSaga(def);
  }

  it('is not claimed by the commit that makes it due: it waits pending for a claim, and its start is the claim', () => {
    const sim = limitedSaga();
    sim.claim(s(0));
    const t = sim.finish(s(0), ok());
    assert.deepEqual(types(t), [SagaEventType.StepCompleted]);
    assert.deepEqual(started(t), []);
    assert.deepEqual(
      t.units.filter((u) => u.key === s(1)).map((u) => [u.status, u.dueInMs]),
      [[UnitStatus.Pending, 0]],
    );
    assert.deepEqual(
      sim.due().map((u) => u.key),
      [s(1)],
    );
    sim.claim(s(1));
    assert.equal(sim.unit(s(1)).attempts, 1);
    const next = sim.finish(s(1), ok());
    assert.deepEqual(started(next), [s(2)]);
  });

  it('its compensation waits pending for a claim too, and a stop halts the queued step without running it', () => {
    const sim = limitedSaga();
    sim.claim(s(0));
    sim.finish(s(0), ok());
    const stop = sim.cancel();
    assert.deepEqual(
      stop.units.filter((u) => u.key === s(1)).map((u) => [u.status, u.dueInMs]),
      [[UnitStatus.Pending, null]],
    );
    assert.deepEqual(started(stop), [c(0)]);

    const sim2 = limitedSaga();
    runAll(sim2);
    assert.equal(sim2.saga.status, SagaStatus.Completed);
    const failing = limitedSaga();
    failing.claim(s(0));
    failing.finish(s(0), ok());
    failing.claim(s(1));
    failing.finish(s(1), ok());
    failing.claim(s(2));
    const failed = failing.finish(s(2), fail(fatal));
    assert.deepEqual(started(failed), []);
    assert.deepEqual(
      failed.units.filter((u) => u.key === c(1)).map((u) => [u.status, u.dueInMs, u.create]),
      [[UnitStatus.Pending, 0, true]],
    );
  });
});
