import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './app-process.js';

/** Debian's pgbouncer (`apt-get install pgbouncer`; .ci/run installs it when missing). */
const PGBOUNCER = '/usr/sbin/pgbouncer';

/**
 * A PgBouncer of the test's own in transaction mode, in front of the local Postgres: on a free port
 * of 127.0.0.1, every database passed through, user postgres without a password (auth_type trust,
 * like the local Postgres). `stop()` ends it and removes its files.
 */
export class PgBouncer {
  private output = '';

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    const capture = (chunk: Buffer) =>
      (this.output = (this.output + chunk.toString('utf8')).slice(-64 * 1024));
    child.stdout!.on('data', capture);
    child.stderr!.on('data', capture);
  }

  static async start(options: { poolSize?: number } = {}): Promise<PgBouncer> {
    const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
    // pgbouncer refuses to run as root: it switches to the postgres user, who must read its files.
    chmodSync(dir, 0o755);
    const port = await freePort();
    writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n', { mode: 0o644 });
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        '* = host=127.0.0.1 port=5432',
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'users.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${options.poolSize ?? 10}`,
        'max_client_conn = 1000',
        'server_reset_query =',
        'log_connections = 0',
        'log_disconnections = 0',
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
    const asUser = process.getuid?.() === 0 ? ['-u', 'postgres'] : [];
    const child = spawn(PGBOUNCER, [...asUser, join(dir, 'pgbouncer.ini')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bouncer = new PgBouncer(port, dir, child);
    await bouncer.waitUntilListening();
    return bouncer;
  }

  /** `databaseUrl` (a database of the local Postgres) through this PgBouncer. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.host = `127.0.0.1:${this.port}`;
    return url.toString();
  }

  /** What pgbouncer printed, for failure messages. */
  get logs(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitUntilListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`pgbouncer exited at start:\n${this.output}`);
      const reachable = await new Promise<boolean>((resolve) => {
        const socket = connect(this.port, '127.0.0.1');
        socket.once('connect', () => resolve(true));
        socket.once('error', () => resolve(false));
        socket.once('close', () => resolve(false));
      }).then((ok) => ok);
      if (reachable) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`pgbouncer did not listen on ${this.port} within 10 s:\n${this.output}`);
  }
}
