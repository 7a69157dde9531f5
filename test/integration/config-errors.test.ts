import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/** `npm start`'s entry point, compiled next to this test's folder. */
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** Runs `npm start`'s entry point with `env` on top of a clean environment, to its exit. */
async function runMain(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('configuration errors: the process prints one line per bad variable and exits 1', () => {
  it('several bad values: exactly their messages on stderr, no stack trace, nothing on stdout', async () => {
    const { code, stdout, stderr } = await runMain({
      PORT: 'eighty',
      SAGA_ROLE: 'both',
      DATABASE_URL: 'mysql://user:secret@localhost/sagas',
      QUEUE_PREFIX: 'saga{',
      DATABASE_POOLING: 'statement',
      WORKER_CONCURRENCY: '0',
    });
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.deepEqual(stderr.split('\n'), [
      'Invalid configuration:',
      '  DATABASE_URL: must be a postgres:// URL that names a database',
      '  DATABASE_POOLING: must be one of session, transaction',
      '  QUEUE_PREFIX: must be 1-64 letters, digits, "_", ".", ":" or "-", with at most one {hash tag} such as {saga}',
      '  PORT: must be a whole number from 0 to 65535',
      '  SAGA_ROLE: must be one of all, api, worker',
      '  WORKER_CONCURRENCY: must be a whole number from 1 to 1000',
      '',
    ]);
    assert.ok(!stderr.includes('secret'), 'a rejected URL is not echoed: it may hold a password');
  });

  it('one bad value: one line', async () => {
    const { code, stderr } = await runMain({ REDIS_URL: 'localhost:6379' });
    assert.equal(code, 1);
    assert.equal(
      stderr,
      'Invalid configuration:\n' +
        '  REDIS_URL: must be a redis:// or rediss:// URL, several of them separated by "," (the seed nodes of a ' +
        'Redis Cluster), or redis-cluster://host:port,host:port\n',
    );
  });
});
