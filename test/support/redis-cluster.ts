import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './app-process.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

interface ClusterNodeProcess {
  port: number;
  busPort: number;
  dir: string;
  child?: ChildProcess;
}

/**
 * A Redis Cluster of three masters (no replicas) on free ports of 127.0.0.1, each a redis-server
 * child process without persistence in a folder of its own: a master killed and started again keeps
 * its slots (nodes.conf) and has lost its data. `stop()` ends the nodes and removes their folders.
 */
export class RedisCluster {
  private constructor(
    private readonly dir: string,
    readonly nodes: ClusterNodeProcess[],
  ) {}

  static async start(): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
    const nodes: ClusterNodeProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const node = { port: await freePort(), busPort: await freePort(), dir: join(dir, String(i)) };
      mkdirSync(node.dir);
      nodes.push(node);
    }
    const cluster = new RedisCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((node) => cluster.launch(node)));
      await run('redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      await cluster.waitUntilServing();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** The seed nodes, as REDIS_URL names a cluster. */
  get url(): string {
    return this.nodes.map((node) => `redis://127.0.0.1:${node.port}`).join(',');
  }

  /** The node that serves the slot of `key`. */
  async masterOf(key: string): Promise<ClusterNodeProcess> {
    const redis = this.client(this.nodes.find((node) => node.child)!);
    try {
      const slot = (await redis.call('CLUSTER', 'KEYSLOT', key)) as number;
      const ranges = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const [, , [, port]] = ranges.find(([from, to]) => slot >= from && slot <= to)!;
      return this.nodes.find((node) => node.port === port)!;
    } finally {
      redis.disconnect();
    }
  }

  /** A plain connection to one node. */
  client(node: ClusterNodeProcess): Redis {
    const redis = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 3 });
    redis.on('error', () => undefined); // a node starting or killed: the commands say so
    return redis;
  }

  async kill(node: ClusterNodeProcess): Promise<void> {
    const child = node.child!;
    node.child = undefined;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed node again, and waits until every slot is served. */
  async restart(node: ClusterNodeProcess): Promise<void> {
    await this.launch(node);
    await this.waitUntilServing();
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.filter((node) => node.child).map((node) => this.kill(node)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(node: ClusterNodeProcess): Promise<void> {
    // prettier-ignore
    node.child = spawn('redis-server', [
      '--port', String(node.port), '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes', '--cluster-port', String(node.busPort),
      '--cluster-config-file', join(node.dir, 'nodes.conf'), '--cluster-node-timeout', '2000',
      '--dir', node.dir, '--save', '', '--appendonly', 'no', '--logfile', join(node.dir, 'redis.log'),
    ], { stdio: 'ignore' });
    const redis = this.client(node);
    try {
      await waitFor(async () => ((await redis.ping()) === 'PONG' ? true : undefined), {
        timeoutMs: 10_000,
        what: `redis-server on ${node.port}`,
      });
    } finally {
      redis.disconnect();
    }
  }

  /** Every node says the cluster is ok (all 16384 slots served). */
  private async waitUntilServing(): Promise<void> {
    await waitFor(
      async () => {
        for (const node of this.nodes) {
          const redis = this.client(node);
          try {
            const info = (await redis.call('CLUSTER', 'INFO')) as string;
            if (!info.includes('cluster_state:ok')) return undefined;
          } finally {
            redis.disconnect();
          }
        }
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'every node of the cluster to report cluster_state:ok' },
    );
  }
}
