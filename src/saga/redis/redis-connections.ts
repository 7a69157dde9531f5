import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { Cluster, Redis } from 'ioredis';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { parseRedisUrl, type RedisTarget } from './redis-target.js';

/**
 * The one place that opens Redis connections, for one server or a Redis Cluster alike: every BullMQ
 * queue and worker takes `bullConnection()`, every other client (a pub/sub subscriber) `connect()`.
 * Keys and channels take `keyPrefix` from the module options, hash-tagged on a cluster.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  readonly target: RedisTarget;
  private shared?: Cluster;

  constructor(@Inject(SAGA_MODULE_OPTIONS) options: ResolvedSagaModuleOptions) {
    this.target = parseRedisUrl(options.redisUrl);
  }

  /**
   * The `connection` option of a BullMQ queue or worker. One server: options, from which BullMQ
   * opens and closes connections of its own. A cluster: BullMQ needs an ioredis Cluster instance;
   * all share one (a worker duplicates it for its blocking connection), closed here at shutdown.
   */
  bullConnection(): ConnectionOptions {
    if (!this.target.cluster) return { url: this.target.url };
    this.shared ??= this.connectCluster(this.target);
    return this.shared;
  }

  /** A new client of its own, which the caller closes; commands wait while Redis is unreachable. */
  connect(): Redis | Cluster {
    const target = this.target;
    if (!target.cluster) return new Redis(target.url, { maxRetriesPerRequest: null });
    return this.connectCluster(target);
  }

  private connectCluster(target: Extract<RedisTarget, { cluster: true }>): Cluster {
    return new Cluster(target.nodes, {
      redisOptions: {
        username: target.username,
        password: target.password,
        tls: target.tls ? {} : undefined,
        maxRetriesPerRequest: null,
      },
      // A node that restarts (or fails over) moves slots: look again soon rather than after the default.
      slotsRefreshInterval: 2000,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    // After BullMQ's queues and workers have closed: the worker closes in beforeApplicationShutdown,
    // the queues in modules nearer the root than this one (imported by BullMQ's), which Nest shuts
    // down first.
    this.shared?.disconnect();
  }
}
