import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SagaError } from '../../src/saga/errors/saga-error.js';
import { skipRefusal, unitToRetry } from '../../src/saga/machine/operator-actions.js';
import { SagaEventType } from '../../src/saga/machine/saga-events.js';
import { UnitKind, unitKey, UnitStatus } from '../../src/saga/machine/saga-snapshot.js';
import type { Outcome, Transition } from '../../src/saga/machine/transition.js';
import { SagaStatus } from '../../src/saga/saga-status.js';
import { definition, policy, SimulatedSaga, type StepSpec } from '../support/machine/simulated-saga.js';

// An operator's retry of one step and skip of one step, as inputs of the pure machine.

const ok = (output: unknown = { ok: true }): Outcome => ({ kind: 'succeeded', output });
const fail = (error: SagaError): Outcome => ({ kind: 'failed', error });
const retryable: SagaError = { name: 'Flaky', message: 'try again', retryable: true };
const fatal: SagaError = { name: 'NonRetryableError', message: 'declined', retryable: false };
const s = unitKey.step;
const c = unitKey.compensation;

const types = (t: Transition) => t.events.map((e) => e.type);
const started = (t: Transition) => t.units.filter((u) => u.start).map((u) => u.key);

/** Runs the due units in order, the one named `key` with `outcome`, until `key` has run once. */
function runUntil(sim: SimulatedSaga, key: string, outcome: Outcome): Transition {
  for (let due = sim.due(); due.length > 0; due = sim.due()) {
    sim.claim(due[0].key);
    if (due[0].key === key) return sim.finish(key, outcome);
    sim.finish(due[0].key, ok({ step: due[0].key }));
  }
  throw new Error(`${key} never became due`);
}

function runAll(sim: SimulatedSaga): void {
  for (let due = sim.due(); due.length > 0; due = sim.due()) {
    sim.claim(due[0].key);
    sim.finish(due[0].key, ok({ step: due[0].key }));
  }
}

/** A saga whose step s1 failed once and now waits out a one-minute backoff. */
function betweenAttempts(): SimulatedSaga {
  const sim = new SimulatedSaga(
    definition([{ compensation: true }, { retry: policy(5, { delay: 60_000 }), compensation: true }, {}]),
  );
  runUntil(sim, s(1), fail(retryable));
  assert.equal(sim.unit(s(1)).status, UnitStatus.Pending);
  assert.equal(sim.unit(s(1)).scheduled, true);
  return sim;
}

/** A saga that compensated s0 in vain until it became a dead letter (s1 failed for good). */
function deadLetter(): SimulatedSaga {
  const sim = new SimulatedSaga(definition([{ compensation: policy(2) }, {}]));
  runUntil(sim, s(1), fail(fatal));
  sim.claim(c(0));
  sim.finish(c(0), fail(retryable));
  sim.claim(c(0));
  sim.finish(c(0), fail(retryable));
  assert.equal(sim.saga.status, SagaStatus.Failed);
  return sim;
}

describe("an operator's retry of one step", () => {
  it('runs a step waiting out its backoff now: the same commit claims its next attempt', () => {
    const sim = betweenAttempts();
    assert.equal(unitToRetry(sim.saga, 1)?.key, s(1));
    const t = sim.input({ kind: 'retryStep', step: 1 });
    assert.deepEqual(t.events, [
      { type: SagaEventType.StepRetried, step: 's1', attempt: 1, data: { unit: UnitKind.Step } },
      { type: SagaEventType.StepStarted, step: 's1', attempt: 2 },
    ]);
    assert.deepEqual(started(t), [s(1)]);
    assert.equal(t.units[0].dueInMs, 0);
    assert.equal(t.status, SagaStatus.Running);
    assert.equal(sim.unit(s(1)).attempts, 2);
    // A new seq: the delayed job of the backoff is stale and runs nothing.
    assert.equal(sim.unit(s(1)).seq, 3);
    sim.finish(s(1), ok());
    runAll(sim);
    assert.equal(sim.saga.status, SagaStatus.Completed);
  });

  it('runs a compensation waiting out its backoff now, in a compensating saga', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    runUntil(sim, s(1), fail(fatal));
    sim.claim(c(0));
    sim.finish(c(0), fail(retryable));
    assert.equal(unitToRetry(sim.saga, 1), undefined);
    assert.equal(unitToRetry(sim.saga, 0)?.key, c(0));
    const t = sim.input({ kind: 'retryStep', step: 0 });
    assert.deepEqual(types(t), [SagaEventType.StepRetried, SagaEventType.CompensationStarted]);
    assert.deepEqual(t.events[0].data, { unit: UnitKind.Compensation });
    assert.deepEqual(started(t), [c(0)]);
    sim.finish(c(0), ok());
    assert.equal(sim.saga.status, SagaStatus.Compensated);
  });

  it("resumes a dead letter at that step's failed compensation, with a fresh budget", () => {
    const sim = deadLetter();
    assert.equal(unitToRetry(sim.saga, 1), undefined);
    const t = sim.input({ kind: 'retryStep', step: 0 });
    assert.equal(t.status, SagaStatus.Compensating);
    assert.deepEqual(types(t), [SagaEventType.StepRetried, SagaEventType.CompensationStarted]);
    const change = t.units.find((u) => u.key === c(0))!;
    assert.equal(change.resetAttempts, true);
    assert.equal(change.error, null);
    assert.equal(sim.unit(c(0)).attempts, 1);
    // The fresh budget: two more attempts before it is a dead letter again.
    sim.finish(c(0), fail(retryable));
    assert.equal(sim.saga.status, SagaStatus.Compensating);
    sim.claim(c(0));
    sim.finish(c(0), ok());
    assert.equal(sim.saga.status, SagaStatus.Compensated);
  });

  it('has nothing to retry in a step not started, running, completed, or waiting for a scheduled start', () => {
    const sim = new SimulatedSaga(definition([{}, {}]));
    assert.equal(unitToRetry(sim.saga, 0), undefined, 'due at the start, no attempt yet');
    assert.equal(unitToRetry(sim.saga, 1), undefined, 'not reached');
    sim.claim(s(0));
    assert.equal(unitToRetry(sim.saga, 0), undefined, 'running');
    sim.finish(s(0), ok());
    assert.equal(unitToRetry(sim.saga, 0), undefined, 'completed');
    runAll(sim);
    assert.equal(unitToRetry(sim.saga, 1), undefined, 'saga completed');
  });
});

describe("an operator's skip of one step", () => {
  it('completes a step between attempts with the given output and goes on; the saga output has it', () => {
    const sim = betweenAttempts();
    assert.equal(skipRefusal(sim.saga, 1), undefined);
    const t = sim.input({ kind: 'skipStep', step: 1, output: { manual: true }, reason: 'paid by phone' });
    assert.deepEqual(t.events, [
      { type: SagaEventType.StepSkipped, step: 's1', attempt: 1, data: { reason: 'paid by phone' } },
      { type: SagaEventType.StepStarted, step: 's2', attempt: 1 },
    ]);
    const change = t.units.find((u) => u.key === s(1))!;
    assert.equal(change.status, UnitStatus.Skipped);
    assert.deepEqual(change.output, { manual: true });
    assert.equal(change.dueInMs, null, 'its backoff is no longer due');
    assert.deepEqual(started(t), [s(2)]);
    runAll(sim);
    assert.equal(sim.saga.status, SagaStatus.Completed);
    assert.deepEqual((sim.transitions.at(-1)!.output as Record<string, unknown>).s1, { manual: true });
  });

  it('is not compensated when a later step fails: it ran no effect the engine knows of', () => {
    const sim = betweenAttempts();
    sim.input({ kind: 'skipStep', step: 1, output: null });
    const t = runUntil(sim, s(2), fail(fatal));
    assert.deepEqual(started(t), [c(0)]);
    sim.finish(c(0), ok());
    assert.equal(sim.saga.status, SagaStatus.Compensated);
    assert.equal(sim.unit(c(1)), undefined);
    assert.equal(sim.unit(s(1)).status, UnitStatus.Skipped);
  });

  it('completes a step waiting for a signal: its timeout is dropped and a later signal is not taken', () => {
    const sim = new SimulatedSaga(definition([{}, { kind: 'wait' }, {}]));
    runUntil(sim, s(0), ok());
    assert.equal(sim.unit(s(1)).status, UnitStatus.Waiting);
    const t = sim.input({ kind: 'skipStep', step: 1, output: { approved: true } });
    assert.equal(sim.unit(s(1)).scheduled, false);
    assert.deepEqual(started(t), [s(2)]);
    const late = sim.input({ kind: 'signal', name: 'sig1', payload: { approved: false } });
    assert.deepEqual(late.events, [
      { type: SagaEventType.SignalReceived, step: 's1', data: { signal: 'sig1', taken: false } },
    ]);
    assert.deepEqual(sim.unit(s(1)).output, { approved: true });
  });

  it('completes a child step waiting for its child, and asks the child to stop', () => {
    const sim = new SimulatedSaga(definition([{ kind: 'child' }, {}]));
    sim.claim(s(0));
    sim.finish(s(0), { kind: 'spawned', child: { id: 'child-1', name: 'child', version: 1, record: {} } });
    const t = sim.input({ kind: 'skipStep', step: 0, output: { paid: 'elsewhere' } });
    assert.deepEqual(t.stopChildren, ['child-1']);
    assert.deepEqual(started(t), [s(1)]);
    // The child's end wakes nothing: the step no longer waits for it.
    assert.equal(sim.endChild('child-1', true), undefined);
    runAll(sim);
    assert.equal(sim.saga.status, SagaStatus.Completed);
  });

  it('completes a step not reached yet; the saga passes it when it gets there', () => {
    const sim = new SimulatedSaga(definition([{}, {}, {}]));
    sim.claim(s(0));
    const t = sim.input({ kind: 'skipStep', step: 1, output: 'given' });
    assert.deepEqual(started(t), [], 's0 still runs');
    const next = sim.finish(s(0), ok());
    assert.deepEqual(started(next), [s(2)]);
  });

  it('is refused for a running attempt, a step that ended, and a saga that does not run forward', () => {
    const sim = new SimulatedSaga(definition([{ compensation: true }, {}]));
    assert.match(skipRefusal(sim.saga, 0)!, /not started yet/);
    sim.claim(s(0));
    assert.match(skipRefusal(sim.saga, 0)!, /attempt of it is running/);
    sim.finish(s(0), ok());
    assert.match(skipRefusal(sim.saga, 0)!, /completed already/);
    sim.input({ kind: 'skipStep', step: 1, output: null });
    assert.equal(sim.saga.status, SagaStatus.Completed);
    assert.match(skipRefusal(sim.saga, 1)!, /completed: it no longer runs forward/);
    const stopped = new SimulatedSaga(definition([{ compensation: true }, {}]));
    runUntil(stopped, s(1), fail(fatal));
    assert.match(skipRefusal(stopped.saga, 1)!, /compensating/);
  });
});

// ---------------------------------------------------------------------------------------------
// Random interleavings with an operator's skips and retries
// ---------------------------------------------------------------------------------------------

describe('property: random interleavings with operator skips and step retries', () => {
  const spec = fc.record({
    compensation: fc.boolean(),
    group: fc.constantFrom(undefined, 'g'),
    kind: fc.constantFrom<StepSpec['kind']>('task', 'task', 'wait'),
  });
  const event = fc.record({
    what: fc.constantFrom('outcome', 'outcome', 'outcome', 'skip', 'retryStep', 'signal', 'cancel'),
    pick: fc.nat(),
    outcome: fc.constantFrom('ok', 'retryable', 'fatal'),
  });

  it('every saga ends; a skipped step is never compensated; only completed steps are', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 5 }),
        fc.array(event, { maxLength: 60 }),
        (specs, events) => {
          const def = definition(
            specs.map((x) => ({ ...x, retry: policy(3), compensation: x.compensation })),
          );
          const sim = new SimulatedSaga(def);
          const skipped = new Set<number>();
          const apply = (e: { what: string; pick: number; outcome: string }) => {
            if (sim.terminal && e.what !== 'retryStep') return;
            const step = e.pick % def.steps.length;
            if (e.what === 'skip') {
              if (skipRefusal(sim.saga, step) === undefined) {
                sim.input({ kind: 'skipStep', step, output: { skipped: step } });
                skipped.add(step);
              }
              return;
            }
            if (e.what === 'retryStep') {
              if (unitToRetry(sim.saga, step)) sim.input({ kind: 'retryStep', step });
              return;
            }
            if (e.what === 'cancel') return void sim.cancel();
            if (e.what === 'signal') {
              const waits = def.steps.filter((x) => x.kind === 'wait');
              if (waits.length)
                sim.input({ kind: 'signal', name: waits[step % waits.length].signal!.name, payload: {} });
              return;
            }
            const due = sim.due();
            if (due.length === 0) return;
            const unit = due[e.pick % due.length];
            sim.claim(unit.key);
            const outcome =
              e.outcome === 'ok' || unit.kind === UnitKind.Compensation
                ? ok()
                : fail(e.outcome === 'fatal' ? fatal : retryable);
            sim.finish(unit.key, outcome);
          };
          for (const e of events) apply(e);
          for (let i = 0; !sim.terminal && i < 300; i++) {
            // Whatever still waits for a signal gets it; then every due unit succeeds.
            const waiting = sim.saga.units.find(
              (u) => u.status === UnitStatus.Waiting && u.kind === UnitKind.Step,
            );
            if (waiting && sim.due().length === 0)
              sim.input({ kind: 'signal', name: def.steps[waiting.step!].signal!.name, payload: {} });
            else apply({ what: 'outcome', pick: 0, outcome: 'ok' });
          }
          assert.ok(sim.terminal, `saga stuck in ${sim.saga.status}`);
          for (const step of skipped) {
            assert.equal(sim.unit(s(step)).status, UnitStatus.Skipped);
            assert.equal(sim.unit(c(step)), undefined, `skipped step s${step} was compensated`);
          }
          for (const undo of sim.saga.units.filter((u) => u.kind === UnitKind.Compensation))
            assert.equal(sim.unit(s(undo.step!)).status, UnitStatus.Completed);
          if (sim.saga.status === SagaStatus.Completed) {
            const output = sim.transitions.at(-1)!.output as Record<string, unknown>;
            for (const step of skipped) assert.deepEqual(output[`s${step}`], { skipped: step });
          }
          assert.deepEqual(
            sim.saga.units.filter((u) => u.scheduled).map((u) => u.key),
            [],
          );
        },
      ),
      { numRuns: 400 },
    );
  });
});
