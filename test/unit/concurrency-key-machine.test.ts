import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CANCELLED_ERROR, DEADLINE_ERROR } from '../../src/saga/machine/decide.js';
import { SagaEventType } from '../../src/saga/machine/saga-events.js';
import { UnitKind, unitKey, UnitStatus } from '../../src/saga/machine/saga-snapshot.js';
import type { Transition } from '../../src/saga/machine/transition.js';
import { SagaStatus } from '../../src/saga/saga-status.js';
import { definition, SimulatedSaga } from '../support/machine/simulated-saga.js';

const s = unitKey.step;
const byCard = (input: unknown) => (input as { card?: string }).card ?? 'none';
const started = (t: Transition) => t.units.filter((u) => u.start).map((u) => u.key);

/** A saga of `definition` queued behind its key (its start found the key held). */
const queued = (specs: Parameters<typeof definition>[0], deadline = false) =>
  new SimulatedSaga(definition(specs, { concurrencyKey: byCard, deadlineMs: deadline ? 1000 : undefined }), {
    queued: true,
    deadline,
  });

describe('a saga queued behind its concurrency key', () => {
  it('has no step due and its admission unit waiting, without a due time', () => {
    const sim = queued([{ group: 'g' }, { group: 'g' }, {}]);
    assert.deepEqual(
      sim.saga.units.map((u) => [u.key, u.kind, u.status, u.scheduled]),
      [
        [s(0), UnitKind.Step, UnitStatus.Pending, false],
        [s(1), UnitKind.Step, UnitStatus.Pending, false],
        [s(2), UnitKind.Step, UnitStatus.Pending, false],
        [unitKey.admission, UnitKind.Admission, UnitStatus.Waiting, false],
      ],
    );
    assert.deepEqual(sim.due(), []);
  });

  it('once admitted, starts its first stage with that commit and runs', () => {
    const sim = queued([{ group: 'g' }, { group: 'g' }, {}]);
    const t = sim.input({ kind: 'due', unit: unitKey.admission });
    assert.equal(t.status, SagaStatus.Running);
    assert.deepEqual(started(t), [s(0), s(1)]);
    assert.equal(sim.unit(unitKey.admission).status, UnitStatus.Completed);
    assert.equal(sim.unit(unitKey.admission).scheduled, false);
    assert.equal(t.releaseKey, undefined);
  });

  it('keeps a signal for a first step that waits, and waits for it only once admitted, then takes it', () => {
    const sim = queued([{ kind: 'wait' }, {}]);
    const kept = sim.input({ kind: 'signal', name: 'sig0', payload: { go: true } });
    assert.equal(kept.status, SagaStatus.Pending);
    assert.deepEqual(started(kept), []);
    assert.equal(sim.unit(s(0)).status, UnitStatus.Pending);
    assert.deepEqual(sim.unit(s(0)).payload, { go: true });

    const admitted = sim.input({ kind: 'due', unit: unitKey.admission });
    assert.deepEqual(started(admitted), [s(0)]);
  });

  it('a first step that waits with no signal yet starts waiting when admitted, with its timeout', () => {
    const sim = queued([{ kind: 'wait' }]);
    const t = sim.input({ kind: 'due', unit: unitKey.admission });
    assert.equal(sim.unit(s(0)).status, UnitStatus.Waiting);
    assert.deepEqual(
      t.units.find((u) => u.key === s(0)),
      { key: s(0), kind: UnitKind.Step, step: 0, name: 's0', status: UnitStatus.Waiting, dueInMs: 1000 },
    );
  });

  it('cancelled, ends compensated with nothing to undo and asks to release its key', () => {
    const sim = queued([{ compensation: true }, {}]);
    const t = sim.cancel();
    assert.equal(t.status, SagaStatus.Compensated);
    assert.deepEqual(t.error, CANCELLED_ERROR);
    assert.deepEqual(
      t.events.map((e) => e.type),
      [SagaEventType.SagaCompensated],
    );
    assert.deepEqual(started(t), []);
    assert.deepEqual(t.releaseKey, { saga: 'test', key: 'none' });
  });

  it('its deadline ends it compensated with DeadlineExceeded', () => {
    const sim = queued([{}], true);
    const t = sim.input({ kind: 'due', unit: unitKey.control });
    assert.equal(t.status, SagaStatus.Compensated);
    assert.deepEqual(t.error, DEADLINE_ERROR);
    assert.ok(t.releaseKey);
  });
});

describe('releasing a concurrency key', () => {
  it('only the transition that ends a keyed saga releases its key, named by its input', () => {
    const sim = new SimulatedSaga(definition([{}, {}], { concurrencyKey: byCard }));
    sim.saga = { ...sim.saga, input: { card: '4242' } };
    sim.claim(s(0));
    const first = sim.finish(s(0), { kind: 'succeeded', output: 1 });
    assert.equal(first.releaseKey, undefined);
    const last = sim.finish(s(1), { kind: 'succeeded', output: 2 });
    assert.equal(last.status, SagaStatus.Completed);
    assert.deepEqual(last.releaseKey, { saga: 'test', key: '4242' });
  });

  it('a saga without a concurrency key never does', () => {
    const sim = new SimulatedSaga(definition([{}]));
    sim.claim(s(0));
    const t = sim.finish(s(0), { kind: 'failed', error: { name: 'X', message: 'x', retryable: false } });
    assert.equal(t.status, SagaStatus.Compensated);
    assert.equal('releaseKey' in t, false);
  });
});
