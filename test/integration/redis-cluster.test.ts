import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deleteRedisKeys } from '../../src/saga/testing/redis-keys.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { orderInput, tripInput, waitForSaga } from '../support/sagas.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';
import { approveWhenWaiting, runSagasToTheirEnds, startSaga } from '../support/topology-sagas.js';

/**
 * Issue 13: REDIS_URL names a Redis Cluster (three masters started here), QUEUE_PREFIX is the
 * test's plain prefix, and the engine hash-tags it so that every key it uses shares one slot. When
 * the master of that slot dies, the jobs on it are lost; once it serves its slots again, the
 * reconciler re-drives every saga from Postgres.
 */
describe('Redis Cluster (REDIS_URL with several seed nodes)', () => {
  let t: TestEnvironment;
  let cluster: RedisCluster;
  let env: Record<string, string>;
  const processes: AppProcess[] = [];

  before(async () => {
    t = await createTestEnvironment();
    cluster = await RedisCluster.start();
    env = { ...t.env, REDIS_URL: cluster.url, LOCK_DURATION_MS: '2000', LOG_LEVEL: 'log' };
    processes.push(await AppProcess.start({ role: 'api', name: 'api', env }));
    processes.push(await AppProcess.start({ role: 'worker', name: 'worker-1', env }));
    processes.push(await AppProcess.start({ role: 'worker', name: 'worker-2', env }));
  });

  after(async () => {
    await killAll(processes);
    await cluster?.stop();
    await t?.destroy();
  });

  const api = () => processes[0].http;
  const tagged = () => `{${t.queuePrefix}}`;

  it('runs linear, parallel, signalled and child sagas, its keys under the hash-tagged prefix', async () => {
    await runSagasToTheirEnds(api());
    const master = await cluster.masterOf(`${tagged()}:saga-units:id`);
    const redis = cluster.client(master);
    try {
      const keys = await redis.keys(`${tagged()}:*`);
      assert.ok(keys.includes(`${tagged()}:saga-units:meta`), keys.join(' '));
    } finally {
      redis.disconnect();
    }
  });

  it('when the master holding the jobs is killed, the sagas it held end once it serves its slots again', async () => {
    const delayed = await Promise.all(
      Array.from({ length: 5 }, () => startSaga(api(), 'order?delayMs=3000', orderInput())),
    );
    const trips = await Promise.all(Array.from({ length: 3 }, () => startSaga(api(), 'trip', tripInput())));
    const master = await cluster.masterOf(`${tagged()}:saga-units:delayed`);
    const redis = cluster.client(master);
    try {
      // The scheduled starts wait in Redis as delayed jobs, on the master about to die.
      assert.equal((await redis.zcard(`${tagged()}:saga-units:delayed`)) >= delayed.length, true);
    } finally {
      redis.disconnect();
    }

    const workers = processes.slice(1);
    const logsBefore = workers.map((p) => p.logs.length);
    await cluster.kill(master);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await cluster.restart(master);

    for (const id of trips) await approveWhenWaiting(api(), id, 60_000);
    for (const id of [...delayed, ...trips]) {
      const saga = await waitForSaga(api(), id, undefined, 60_000);
      assert.equal(saga.status, 'completed', JSON.stringify(saga));
    }
    for (const p of processes) assert.ok(p.running, `${p.name} is still running\n${p.describe()}`);
    // The reconciler put the lost jobs back: the scheduled starts at least.
    const redriven = workers
      .flatMap((p, i) => [...p.logs.slice(logsBefore[i]).matchAll(/re-enqueued (\d+) due unit/g)])
      .reduce((sum, match) => sum + Number(match[1]), 0);
    assert.ok(
      redriven >= delayed.length,
      `${redriven} units re-enqueued\n${workers.map((p) => p.describe()).join('\n')}`,
    );
  });

  it("a worker stopped with SIGTERM exits 0; the test kit's deleteRedisKeys empties every master", async () => {
    const stopped = await processes[2].stop('SIGTERM');
    assert.deepEqual(stopped, { code: 0, signal: null }, processes[2].describe());
    await killAll(processes);
    // Given the prefix as the test environment knows it, untagged.
    assert.ok((await deleteRedisKeys(cluster.url, t.queuePrefix)) > 0, 'the engine left keys to delete');
    for (const node of cluster.nodes) {
      const redis = cluster.client(node);
      try {
        assert.deepEqual(await redis.keys(`${tagged()}:*`), []);
      } finally {
        redis.disconnect();
      }
    }
  });
});
