import { InjectQueue } from '@nestjs/bullmq';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { RedisConnections } from '../redis/redis-connections.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';
import { within } from './patiently.js';
import { SAGA_QUEUE } from './saga-queue.js';
import { StepInvoker } from './step-invoker.js';

/**
 * Tells the workers running a saga's forward attempts to abort their signals once the saga stops
 * going forward (a cancel, a sibling that failed, its deadline, its parent stopping it). Best effort
 * over Redis pub/sub: the cancel itself is already committed in Postgres, and a worker that misses
 * the message simply lets the step finish before compensating.
 */
@Injectable()
export class CancellationBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('CancellationBus');
  private subscriber?: Redis | Cluster;
  private readonly channel: string;

  constructor(
    @InjectQueue(SAGA_QUEUE) private readonly queue: Queue,
    private readonly invoker: StepInvoker,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
    private readonly redis: RedisConnections,
  ) {
    this.channel = `${options.queuePrefix}:cancelled-sagas`;
  }

  onApplicationBootstrap(): void {
    if (this.options.role === 'api') return;
    // On a cluster, a PUBLISH reaches the subscribers of every node, so any node will do.
    this.subscriber = this.redis.connect();
    this.subscriber.on('error', () => undefined); // reconnects by itself; /health reports Redis
    this.subscriber.on('message', (_channel, sagaId: string) => this.invoker.signalCancel(sagaId));
    this.subscriber.subscribe(this.channel).catch((error: Error) => this.logger.warn(error.message));
  }

  onApplicationShutdown(): void {
    this.subscriber?.disconnect();
  }

  /**
   * Asks the workers running the saga's forward attempts to abort their signals, in the background:
   * the stop is committed already, and a worker that misses this lets its attempt finish.
   */
  publishSoon(sagaId: string): void {
    this.publish(sagaId).catch((error: Error) =>
      this.logger.warn(`saga ${sagaId}: running attempts not signalled (${error.message})`),
    );
  }

  private async publish(sagaId: string): Promise<void> {
    const client = await within(this.queue.backend.client, 1000, 'connecting to Redis');
    await within(client.runCommand('publish', [this.channel, sagaId]), 1000, 'publishing a cancel');
  }
}
