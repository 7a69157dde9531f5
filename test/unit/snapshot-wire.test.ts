import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packSnapshot, unpackSnapshot } from '../../src/saga/execution/saga-queue.js';
import {
  unitAtCreation,
  type SagaSnapshot,
  type UnitSnapshot,
} from '../../src/saga/machine/saga-snapshot.js';

const unit = (fields: Partial<UnitSnapshot>): UnitSnapshot => ({
  ...unitAtCreation({ key: 's0', kind: 'step', step: 0, name: 'a', status: 'pending', scheduled: false }),
  ...fields,
});

const saga: SagaSnapshot = {
  id: '01a233a1-4c5e-7c94-b044-4c91773797ba',
  name: 'trip',
  version: 2,
  status: 'running',
  seq: 4,
  cancelRequested: false,
  priority: 5,
  input: { tripId: 't-1' },
  parent: null,
  units: [
    unit({ status: 'completed', seq: 1, attempts: 1, output: false, endedAt: 2 }),
    unit({
      key: 's1',
      step: 1,
      name: 'b',
      status: 'running',
      seq: 1,
      attempts: 1,
      scheduled: true,
      output: 0,
    }),
    unit({ key: 's2', step: 2, name: 'c', status: 'waiting', payload: { approved: true } }),
    unit({ key: 's3', step: 3, name: 'd', child: { id: 'c-1', status: 'running', output: null } }),
    unit({
      key: 'saga',
      kind: 'control',
      step: null,
      name: 'saga',
      status: 'waiting',
      seq: 1,
      scheduled: true,
    }),
  ],
};

describe('the snapshot a job carries', () => {
  it('unpacks to the saga it was packed from, outputs of false and 0 included', () => {
    assert.deepEqual(unpackSnapshot(packSnapshot(saga)), saga);
    const traced = {
      ...saga,
      cancelRequested: true,
      parent: { id: 'p-1', step: 2 },
      traceContext: '00-a-b-01',
    };
    assert.deepEqual(unpackSnapshot(packSnapshot(traced)), traced);
  });

  it('leaves out the fields at their usual value, but keeps every unit payload for a previous release', () => {
    const packed = packSnapshot(saga);
    assert.deepEqual(packed.units[4], {
      key: 'saga',
      kind: 'control',
      name: 'saga',
      status: 'waiting',
      seq: 1,
      attempts: 0,
      payload: null,
      scheduled: true,
    });
    assert.ok(packed.units.every((u) => 'payload' in u));
    assert.ok(!('cancelRequested' in packed) && !('parent' in packed));
  });

  it('reads a snapshot as a previous release enqueued it, with every field', () => {
    assert.deepEqual(unpackSnapshot(JSON.parse(JSON.stringify(saga))), saga);
  });
});
