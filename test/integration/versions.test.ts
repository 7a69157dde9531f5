import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { SagaRegistry } from '../../src/saga/definition/saga-registry.js';
import { SagaDispatcher } from '../../src/saga/execution/saga-dispatcher.js';
import type { SagaView } from '../../src/saga/index.js';
import { SagaStore } from '../../src/saga/store/saga.store.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { VersionedSagaV1Module } from '../support/fixtures/versioned-v1.saga.js';
import { VersionedSagaModule } from '../support/fixtures/versioned.saga.js';
import type { HttpClient } from '../support/http-client.js';
import { waitForSaga } from '../support/sagas.js';
import {
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from '../support/test-app.js';
import { metric } from '../support/metrics.js';
import { waitFor } from '../support/wait.js';

const V1_STEPS = [
  ['reserve', { version: 1, step: 'reserve' }],
  ['charge', { version: 1, step: 'charge' }],
];
const V2_STEPS = [
  ['reserve', { version: 2, step: 'reserve' }],
  ['fraudCheck', { version: 2, step: 'fraudCheck' }],
  ['charge', { version: 2, step: 'charge' }],
];

/** Each step's name and output, for a completed saga: which version's handler ran which step. */
const stepsOf = (saga: SagaView) => saga.steps!.map((s) => [s.name, s.output]);

/**
 * Issue 9, item 6: a saga finishes on the definition it started with. Two versions of saga
 * `versioned` (test/support/fixtures/versioned*.saga.ts): version 1 runs reserve → charge, version 2
 * reserve → fraudCheck → charge, and every step's output says which version's handler ran it.
 */
describe('versions: two versions of one saga registered side by side', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ sagaModules: [VersionedSagaV1Module, VersionedSagaModule] });
  });
  after(() => t.close());

  it('a saga started on version 1 finishes on version 1 while new starts use version 2', async () => {
    // Started as a process that had only version 1 started it: through the store, with that definition.
    const v1 = t.app.get(SagaRegistry, { strict: false }).findVersion('versioned', 1)!;
    const old = await t.app.get(SagaStore, { strict: false }).create(v1, { holdMs: 0 }, undefined);
    t.app.get(SagaDispatcher, { strict: false }).dispatchCommitted(old.units);
    const started = await t.http.post('/sagas/versioned', {});
    assert.equal(started.status, 202, started.text);

    const [first, second] = await Promise.all([
      waitForSaga(t.http, old.id),
      waitForSaga(t.http, started.body.id as string),
    ]);
    assert.deepEqual([first.status, first.version], ['completed', 1]);
    assert.deepEqual(stepsOf(first), V1_STEPS);
    assert.deepEqual([second.status, second.version], ['completed', 2]);
    assert.deepEqual(stepsOf(second), V2_STEPS);

    // Both versions are registered here: nothing is left without a definition, none is in flight.
    const metrics = await metricsOf(t.http);
    assert.equal(metric(metrics, 'saga_active', { saga: 'versioned', version: '1' }), 0);
    assert.equal(metric(metrics, 'saga_active', { saga: 'versioned', version: '2' }), 0);
    assert.doesNotMatch(metrics, /^saga_units_without_definition\{/m);
  });
});

describe('versions: a process that lacks a saga version leaves its units to one that has it', () => {
  let t: TestEnvironment;
  let processes: AppProcess[];

  beforeEach(async () => {
    t = await createTestEnvironment();
    processes = [];
  });
  afterEach(async () => {
    await killAll(processes);
    await t.destroy();
  });

  /** A process that registers the saga modules `modules` of test/support/app-process.main.ts. */
  async function spawn(role: 'all' | 'worker', modules: string, name: string): Promise<AppProcess> {
    const p = await AppProcess.start({ role, name, env: { ...t.env, TEST_SAGA_MODULES: modules } });
    processes.push(p);
    return p;
  }

  async function unitsOf(id: string) {
    const rows = await t.sql<{ key: string; status: string; attempts: number }[]>`
      SELECT key, status, attempts FROM saga_units WHERE saga_id = ${id} ORDER BY key`;
    return rows.map((r) => [r.key, r.status, r.attempts]);
  }

  async function eventTypes(id: string): Promise<string[]> {
    const rows = await t.sql<{ type: string }[]>`
      SELECT type FROM saga_events WHERE saga_id = ${id} ORDER BY id`;
    return rows.map((r) => r.type);
  }

  it('a version 1 unit is neither run nor failed where only version 2 is, is counted there, and completes once version 1 runs', async () => {
    // 1. Only version 1 is deployed. Its first step holds long enough to stop the process during it:
    // a clean stop records the step, and that commit claims the second step's first attempt.
    const onlyV1 = await spawn('all', 'versioned-v1', 'v1-only');
    const started = await onlyV1.http.post('/sagas/versioned', { holdMs: 1500 });
    assert.equal(started.status, 202, started.text);
    const id = started.body.id as string;
    await waitFor(
      async () =>
        (await unitsOf(id)).some(([key, status]) => key === 's0' && status === 'running') ? true : undefined,
      { what: 'the first step to run' },
    );
    assert.deepEqual(await onlyV1.stop('SIGTERM'), { code: 0, signal: null }, onlyV1.describe());
    assert.deepEqual(await unitsOf(id), [
      ['s0', 'completed', 1],
      ['s1', 'running', 1],
    ]);

    // 2. Version 2 is deployed, without version 1: it takes the claimed unit's job and leaves it,
    // again and again, and counts it; it claims nothing, runs nothing, fails nothing.
    const onlyV2 = await spawn('all', 'versioned', 'v2-only');
    const v1 = { saga: 'versioned', version: '1' };
    await waitFor(
      async () =>
        (metric(await metricsOf(onlyV2.http), 'saga_units_left_total', v1) ?? 0) >= 2 ? true : undefined,
      { timeoutMs: 10_000, what: `the v2-only process to leave the unit twice\n${onlyV2.describe()}` },
    );
    const metrics = await metricsOf(onlyV2.http);
    assert.equal(metric(metrics, 'saga_units_without_definition', v1), 1, metrics);
    assert.equal(metric(metrics, 'saga_active', v1), 1, metrics);
    const [saga] = await t.sql`SELECT status, version, cancel_requested FROM sagas WHERE id = ${id}`;
    assert.deepEqual({ ...saga }, { status: 'running', version: 1, cancel_requested: false });
    assert.deepEqual(await unitsOf(id), [
      ['s0', 'completed', 1],
      ['s1', 'running', 1],
    ]);
    assert.deepEqual(await eventTypes(id), [
      'saga_started',
      'step_started',
      'step_completed',
      'step_started',
    ]);

    // New starts there use version 2 and run there.
    const newer = await onlyV2.http.post('/sagas/versioned', {});
    assert.equal(newer.status, 202, newer.text);
    const second = await waitForSaga(onlyV2.http, newer.body.id as string);
    assert.deepEqual([second.status, second.version], ['completed', 2]);
    assert.deepEqual(stepsOf(second), V2_STEPS);
    // It cannot decide for a version it lacks: a cancel there is a 503 that writes nothing.
    const cancel = await onlyV2.http.post(`/sagas/${id}/cancel`);
    assert.equal(cancel.status, 503, cancel.text);
    assert.match(cancel.body.message, /runs versioned@1, which this process does not have/);
    const [{ cancel_requested }] = await t.sql`SELECT cancel_requested FROM sagas WHERE id = ${id}`;
    assert.equal(cancel_requested, false);

    // 3. A process with version 1 comes up (the v2-only one goes, so that it is the one to take the
    // job when its delay is over): the saga finishes on version 1's steps, on the attempt that the
    // commit claimed, as if it had never been left.
    const both = await spawn('all', 'versioned-v1,versioned', 'v1-and-v2');
    await onlyV2.stop('SIGTERM');
    const first = await waitForSaga(both.http, id, undefined, 40_000);
    assert.deepEqual([first.status, first.version], ['completed', 1]);
    assert.deepEqual(stepsOf(first), V1_STEPS);
    assert.deepEqual(await unitsOf(id), [
      ['s0', 'completed', 1],
      ['s1', 'completed', 1],
    ]);
    assert.deepEqual(await eventTypes(id), [
      'saga_started',
      'step_started',
      'step_completed',
      'step_started',
      'step_completed',
      'saga_completed',
    ]);
    assert.equal(metric(await metricsOf(both.http), 'saga_active', v1), 0);
  });
});

async function metricsOf(http: HttpClient): Promise<string> {
  const response = await http.get('/metrics');
  assert.equal(response.status, 200, response.text);
  return response.text;
}
