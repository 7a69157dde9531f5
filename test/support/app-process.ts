import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { HttpClient } from './http-client.js';

/**
 * The compiled entry point next to this file, so that a test compiled into `dist/` (or any other
 * out dir) spawns the application compiled into the same folder.
 */
const ENTRY = fileURLToPath(new URL('./app-process.main.js', import.meta.url));

/** How much of a process's output is kept for diagnostics (the most recent part). */
const OUTPUT_LIMIT = 256 * 1024;

export type Role = 'all' | 'api' | 'worker';

export interface AppProcessOptions {
  /** `SAGA_ROLE` of the process. @defaultValue 'all' */
  role?: Role;
  /** The environment of the test (DATABASE_URL, QUEUE_PREFIX, ...) plus anything else; PORT is chosen here. */
  env: Record<string, string>;
  /** A name for messages and output prefixes. @defaultValue `${role}-${n}` */
  name?: string;
  /** How long to wait for /health to answer 200. @defaultValue 30_000 */
  readyTimeoutMs?: number;
  /** The compiled script the process runs. @defaultValue app-process.main.js, next to this file */
  entry?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

let counter = 0;
/** Every process started here that has not exited yet, so that nothing outlives the test process. */
const live = new Set<AppProcess>();

process.once('exit', () => {
  for (const app of live) app.child.kill('SIGKILL');
});

/** One application process (`src/serve.ts`, by default with the app's and the scripted sagas), spawned and watched by a test. */
export class AppProcess {
  readonly http: HttpClient;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<Exit>;
  private output = '';
  private exit?: Exit;

  private constructor(
    readonly name: string,
    readonly role: Role,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    this.http = new HttpClient(`http://127.0.0.1:${port}`);
    const capture = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > OUTPUT_LIMIT * 2) this.output = this.output.slice(-OUTPUT_LIMIT);
    };
    child.stdout!.on('data', capture);
    child.stderr!.on('data', capture);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
    live.add(this);
  }

  /** Spawns a process on a free port and waits until it serves /health with 200. */
  static async start(options: AppProcessOptions): Promise<AppProcess> {
    const role = options.role ?? 'all';
    const name = options.name ?? `${role}-${++counter}`;
    // The port was free a moment ago; if another process took it since, start again on another.
    for (let tries = 1; ; tries++) {
      const port = await freePort();
      const child = spawn(process.execPath, [options.entry ?? ENTRY], {
        env: { ...process.env, NO_COLOR: '1', ...options.env, SAGA_ROLE: role, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const app = new AppProcess(name, role, port, child);
      try {
        await app.waitUntilHealthy(options.readyTimeoutMs ?? 30_000);
        return app;
      } catch (error) {
        await app.stop('SIGKILL');
        if (tries < 3 && /EADDRINUSE/.test(app.output)) continue;
        throw new Error(`${(error as Error).message}\n${app.describe()}`, { cause: error });
      }
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** What the process wrote to stdout and stderr (the last 256 KiB at least). */
  get logs(): string {
    return this.output;
  }

  /** A paragraph for failure messages: name, pid, exit, and the tail of the output. */
  describe(tailChars = 8000): string {
    const state = this.exit ? `exited with code ${this.exit.code} signal ${this.exit.signal}` : 'running';
    const tail = this.output.length > tailChars ? `…${this.output.slice(-tailChars)}` : this.output;
    return `--- ${this.name} (pid ${this.child.pid}, port ${this.port}, ${state}) ---\n${tail}`;
  }

  /** Sends `signal` (without waiting). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /**
   * Sends `signal` and waits for the exit; if the process is still alive after `timeoutMs`, kills
   * it with SIGKILL and rejects, since a process that ignores SIGTERM is a bug.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<Exit> {
    if (!this.running) return this.exit!;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result !== 'timeout') return result;
    this.child.kill('SIGKILL');
    await this.exited;
    throw new Error(`${this.name} did not exit within ${timeoutMs} ms of ${signal}\n${this.describe()}`);
  }

  private async waitUntilHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before it was healthy (${last})`);
      try {
        const response = await this.http.get('/health');
        if (response.status === 200) return;
        last = `/health answered ${response.status} ${response.text}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${this.name} was not healthy within ${timeoutMs} ms (${last})`);
  }
}

/** Kills every process (SIGKILL) and waits for them; for `after` hooks, whatever state a test left. */
export async function killAll(processes: Iterable<AppProcess | undefined>): Promise<void> {
  await Promise.all(
    [...processes].filter((p): p is AppProcess => p !== undefined).map((p) => p.stop('SIGKILL')),
  );
}

/** A port nothing listens on right now (the kernel's pick for port 0, on every interface like the app). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
