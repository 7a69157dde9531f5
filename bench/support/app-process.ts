import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { IsolatedEnvironment } from './isolated-environment.js';

/** The compiled `src/main.js` next to this build of the bench (dist/ or any dist-*). */
const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
/** The same app serving the bench's no-op sagas instead of the example sagas. */
export const NOOP_APP_JS = fileURLToPath(new URL('./noop-app.main.js', import.meta.url));

export interface AppProcess {
  url: string;
  pid: number;
  /** The last few kB the process wrote, to explain errors it answered with. */
  recentOutput(): string;
  /** SIGTERM (a clean shutdown), then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts the app as its own node process, the way it is deployed (`node dist/src/main.js`), so
 * that what is measured against it does not share an event loop with the load generator.
 */
export async function startAppProcess(
  environment: IsolatedEnvironment,
  settings: Record<string, string> = {},
  main = MAIN_JS,
): Promise<AppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      DATABASE_URL: environment.databaseUrl,
      REDIS_URL: environment.redisUrl,
      QUEUE_PREFIX: environment.queuePrefix,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept to explain a failed start or error responses; with LOG_LEVEL=warn it says little otherwise.
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${main} exited with ${child.exitCode}:\n${output}`);
    const healthy = await fetch(`${url}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${main} did not answer /health within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  return {
    url,
    pid: child.pid!,
    recentOutput: () => output,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
