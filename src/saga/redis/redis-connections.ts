import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { parseRedisUrl, type RedisTarget } from './redis-target.js';

/**
 * The one place that opens Redis connections, for one server or a Redis Cluster alike: every BullMQ
 * queue, worker or QueueEvents takes `bullConnection()`, every other client (a pub/sub subscriber)
 * `connect()`. Every key and channel name starts with the options' `queuePrefix`, which is
 * hash-tagged on a cluster (see keyPrefixFor): a new queue or channel that does both works there too.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  readonly target: RedisTarget;
  private shared?: Redis | Cluster;

  constructor(@Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions) {
    this.target = parseRedisUrl(options.redisUrl);
  }

  /** The connection and key prefix of every BullMQ queue and worker of the engine. */
  bullOptions(): { connection: ConnectionOptions; prefix: string } {
    return { connection: this.bullConnection(), prefix: this.options.queuePrefix };
  }

  /**
   * The `connection` option of a BullMQ queue or worker. One server: options, from which BullMQ
   * opens and closes connections of its own. A cluster: BullMQ needs an ioredis Cluster instance;
   * all share one (a worker duplicates it for its blocking connection), closed here at shutdown.
   */
  bullConnection(): ConnectionOptions {
    if (!this.target.cluster) return { url: this.target.url };
    this.shared ??= this.connect();
    return this.shared;
  }

  /** A new client of its own, which the caller closes; commands wait while Redis is unreachable. */
  connect(): Redis | Cluster {
    return openRedis(this.target);
  }

  async onApplicationShutdown(): Promise<void> {
    // After BullMQ's queues and workers have closed: the worker closes in beforeApplicationShutdown,
    // the queues in modules nearer the root than this one (imported by BullMQ's), which Nest shuts
    // down first.
    this.shared?.disconnect();
  }
}

/**
 * A client for `target`, one server's or a cluster's, which the caller closes. `options` apply to
 * each connection (to every node of a cluster). @defaultValue commands wait while Redis is unreachable
 */
export function openRedis(
  target: RedisTarget,
  options: RedisOptions = { maxRetriesPerRequest: null },
): Redis | Cluster {
  if (!target.cluster) return new Redis(target.url, options);
  const { username, password } = target;
  return new Cluster(target.nodes, {
    lazyConnect: options.lazyConnect,
    redisOptions: { ...options, username, password, tls: target.tls ? {} : undefined },
    // A node that restarts (or fails over) moves slots: look again soon rather than after the default.
    slotsRefreshInterval: 2000,
  });
}
