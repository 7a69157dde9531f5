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
import { within } from '../execution/patiently.js';
import { SAGA_QUEUE } from '../execution/saga-queue.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';

/** How often a process repeats which sagas it streams; a process forgets a saga not repeated for WATCH_TTL_MS. */
const WATCH_RENEW_MS = 2000;
const WATCH_TTL_MS = 3 * WATCH_RENEW_MS;

/**
 * Tells the processes that stream a saga (`GET /sagas/{id}/stream`) that events of it were
 * committed, over Redis pub/sub. A process with open streams announces their saga ids on a watch
 * channel; every process keeps the announced ids for a while, and after a commit publishes the ids
 * of watched sagas only, once per tick whatever the number of commits. With no stream open
 * anywhere, a commit costs one map lookup and no Redis command. Best effort: the events are in
 * Postgres, and a stream that misses a message reads them on its next periodic catch-up.
 */
@Injectable()
export class SagaStreamBus implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SagaStreamBus');
  private subscriber?: Redis | Cluster;
  private readonly watchChannel: string;
  private readonly eventsChannel: string;
  /** Sagas some process streams, with when that process's last announcement of them expires. */
  private readonly watched = new Map<string, number>();
  private lastSweep = 0;
  /** This process's open streams, by saga id. */
  private readonly local = new Map<string, Set<() => void>>();
  private announcer?: NodeJS.Timeout;
  /** Watched sagas committed since the last publish; set while a publish is scheduled. */
  private pending?: Set<string>;

  constructor(
    @InjectQueue(SAGA_QUEUE) private readonly queue: Queue,
    @Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions,
    private readonly redis: RedisConnections,
  ) {
    this.watchChannel = `${options.queuePrefix}:streamed-sagas`;
    this.eventsChannel = `${options.queuePrefix}:saga-events`;
  }

  onApplicationBootstrap(): void {
    this.subscriber = this.redis.connect();
    this.subscriber.on('error', () => undefined); // reconnects by itself; /health reports Redis
    this.subscriber.on('message', (channel: string, message: string) => {
      const ids = message.split(',');
      if (channel === this.watchChannel) this.noteWatched(ids);
      else for (const id of ids) this.local.get(id)?.forEach((wake) => wake());
    });
    // Every role commits events (an API process cancels and signals); only API processes stream them.
    const channels = [this.watchChannel, ...(this.options.role === 'worker' ? [] : [this.eventsChannel])];
    this.subscriber.subscribe(...channels).catch((error: Error) => this.logger.warn(error.message));
  }

  onApplicationShutdown(): void {
    clearInterval(this.announcer);
    this.subscriber?.disconnect();
  }

  /**
   * Calls `wake` whenever events of the saga may have been committed, until the returned function
   * is called.
   */
  listen(sagaId: string, wake: () => void): () => void {
    const listeners = this.local.get(sagaId) ?? new Set();
    listeners.add(wake);
    this.local.set(sagaId, listeners);
    this.send(this.watchChannel, sagaId);
    this.announcer ??= setInterval(
      () => this.send(this.watchChannel, [...this.local.keys()].join(',')),
      WATCH_RENEW_MS,
    );
    return () => {
      listeners.delete(wake);
      if (listeners.size === 0) this.local.delete(sagaId);
      if (this.local.size > 0) return;
      clearInterval(this.announcer);
      this.announcer = undefined;
    };
  }

  /**
   * Called after a commit that recorded events of the saga (and of the sagas whose units it
   * scheduled: children started or stopped, a parent woken).
   */
  committed(sagaId: string, others?: readonly { sagaId: string }[]): void {
    if (this.watched.size === 0) return;
    this.notePending(sagaId);
    if (others) for (const other of others) this.notePending(other.sagaId);
  }

  private notePending(sagaId: string): void {
    const until = this.watched.get(sagaId);
    if (until === undefined) return;
    if (until < Date.now()) {
      this.watched.delete(sagaId);
      return;
    }
    if (!this.pending) {
      this.pending = new Set();
      setImmediate(() => {
        const ids = [...this.pending!].join(',');
        this.pending = undefined;
        this.send(this.eventsChannel, ids);
      });
    }
    this.pending.add(sagaId);
  }

  private noteWatched(ids: string[]): void {
    const now = Date.now();
    for (const id of ids) this.watched.set(id, now + WATCH_TTL_MS);
    if (now - this.lastSweep < WATCH_TTL_MS) return;
    this.lastSweep = now;
    for (const [id, until] of this.watched) if (until < now) this.watched.delete(id);
  }

  private send(channel: string, message: string): void {
    this.publish(channel, message).catch((error: Error) =>
      this.logger.debug(`not published on ${channel}: ${error.message}`),
    );
  }

  private async publish(channel: string, message: string): Promise<void> {
    const client = await within(this.queue.backend.client, 1000, 'connecting to Redis');
    await within(client.runCommand('publish', [channel, message]), 1000, `publishing on ${channel}`);
  }
}
