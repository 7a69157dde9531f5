import { getQueueToken } from '@nestjs/bullmq';
import {
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type LogLevel,
  type ModuleMetadata,
  type Provider,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Queue } from 'bullmq';
import postgres from 'postgres';
import { SagaDispatcher } from '../execution/saga-dispatcher.js';
import { SAGA_QUEUE, type UnitJobData } from '../execution/saga-queue.js';
import { SagaReconciler } from '../execution/saga-reconciler.js';
import { SagaService } from '../execution/saga.service.js';
import { UNIT_BOUNDARY_HOOK } from '../execution/unit-boundary-hook.js';
import { SagaModule } from '../saga.module.js';
import type { SagaModuleOptions } from '../saga-module-options.js';
import { ACTIVE_SAGA_STATUSES } from '../saga-status.js';
import { SagaDatabase } from '../store/saga-database.js';
import { SagaQueries } from '../store/saga-queries.js';
import type { SagaEventView, SagaView } from '../store/saga-views.js';
import { CrashInjector } from './crash-injector.js';
import {
  exploreCrashes,
  type CrashExpectation,
  type CrashExplorationReport,
  type ExplorationInput,
} from './crash-explorer.js';
import type { ArmedCrash, CrashPoint } from './crash-point.js';
import { SagaClock } from './saga-clock.js';
import { SagaTestTimeoutError } from './saga-test-timeout.error.js';
import {
  createSagaTestEnvironment,
  type SagaTestEnvironment,
  type SagaTestEnvironmentOptions,
} from './test-environment.js';

const POLL_MS = 20;

/** Modules to import, as in `@Module({ imports })`. */
export type SagaTestImports = NonNullable<ModuleMetadata['imports']>;

export interface SagaTestKitOptions extends SagaTestEnvironmentOptions {
  /**
   * The modules that provide your sagas and whatever they need; or a function of the test's
   * database and Redis, for modules that connect to them themselves.
   */
  imports: SagaTestImports | ((environment: { databaseUrl: string; redisUrl: string }) => SagaTestImports);
  /** More providers, visible to every module (like a global module's). @defaultValue none */
  providers?: Provider[];
  /**
   * Engine options, as for `SagaModule.forRoot`, but the connection, prefix and role, which the
   * kit sets. @defaultValue the engine's defaults, with `reconcileIntervalMs: 200` and `shutdownGraceMs: 2000`
   */
  engine?: Omit<SagaModuleOptions, 'databaseUrl' | 'redisUrl' | 'queuePrefix' | 'role'>;
  /** Nest log levels. @defaultValue ['error'] */
  logger?: LogLevel[] | false;
  /** How long `waitForEnd` and `runToEnd` wait for a saga to end, in ms. @defaultValue 20_000 */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** @defaultValue the kit's `timeoutMs` */
  timeoutMs?: number;
}

@Module({})
class SagaTestKitModule {}

@Module({})
class SagaTestKitProvidersModule {}

/**
 * Runs your sagas in this process, on the real engine against real Postgres and Redis, in a
 * database and a BullMQ prefix of their own; skips waits instead of sleeping through them; and
 * crashes units of work at their boundaries, as a process death would, to prove your handlers
 * survive it.
 */
export class SagaTestKit {
  /** The test's database: created for this kit, dropped by `close()`. */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** The BullMQ prefix of this kit; every key under it is deleted by `close()`. */
  readonly queuePrefix: string;
  /** A client on the test's database, to check your side effects. */
  readonly sql: postgres.Sql;
  private readonly service: SagaService;
  private readonly queries: SagaQueries;
  private readonly clock: SagaClock;
  private closing?: Promise<void>;

  private constructor(
    /** The Nest application context: your providers are there (`kit.get()` is a shortcut). */
    readonly app: INestApplicationContext,
    private readonly environment: SagaTestEnvironment,
    private readonly crashes: CrashInjector,
    private readonly timeoutMs: number,
  ) {
    this.databaseUrl = environment.databaseUrl;
    this.redisUrl = environment.redisUrl;
    this.queuePrefix = environment.queuePrefix;
    this.sql = postgres(environment.databaseUrl, { max: 2, onnotice: () => undefined });
    this.service = this.get(SagaService);
    this.queries = this.get(SagaQueries);
    const queue = this.get<Queue<UnitJobData>>(getQueueToken(SAGA_QUEUE));
    this.clock = new SagaClock(this.get(SagaDatabase), queue, this.get(SagaDispatcher));
    crashes.attach({ queue, clock: this.clock, reconciler: this.get(SagaReconciler) });
  }

  /**
   * Creates the test's database (migrated) and BullMQ prefix, and starts the engine (workers and
   * reconciler, no HTTP) with your modules.
   */
  static async create(options: SagaTestKitOptions): Promise<SagaTestKit> {
    const environment = await createSagaTestEnvironment(options);
    const { databaseUrl, redisUrl, queuePrefix } = environment;
    const crashes = new CrashInjector();
    const providers = options.providers ?? [];
    const imports =
      typeof options.imports === 'function' ? options.imports({ databaseUrl, redisUrl }) : options.imports;
    const root: DynamicModule = {
      module: SagaTestKitModule,
      imports: [
        SagaModule.forRoot({
          reconcileIntervalMs: 200,
          shutdownGraceMs: 2000,
          ...options.engine,
          databaseUrl,
          redisUrl,
          queuePrefix,
          role: 'all',
        }),
        {
          module: SagaTestKitProvidersModule,
          global: true,
          providers: [{ provide: UNIT_BOUNDARY_HOOK, useValue: crashes }, ...providers],
          exports: [UNIT_BOUNDARY_HOOK, ...providers],
        },
        ...imports,
      ],
    };
    try {
      const app = await NestFactory.createApplicationContext(root, {
        logger: options.logger ?? ['error'],
        abortOnError: false,
      });
      return new SagaTestKit(app, environment, crashes, options.timeoutMs ?? 20_000);
    } catch (error) {
      await environment.destroy().catch(() => undefined);
      throw error;
    }
  }

  /** A provider of the application, from any module. */
  get<T>(token: Type<T> | string | symbol): T {
    return this.app.get<T>(token, { strict: false });
  }

  /** Starts a saga (its input validated as over HTTP) and returns its id. */
  async start(name: string, input: unknown, options: { idempotencyKey?: string } = {}): Promise<string> {
    return (await this.service.start(name, input, options)).id;
  }

  // Signals, when the engine has them, are sent here: signal(id, name, payload).

  /** The saga and its steps, as `GET /sagas/{id}` shows them. */
  async view(id: string): Promise<SagaView> {
    const view = await this.queries.get(id);
    if (!view) throw new Error(`no saga ${id}`);
    return view;
  }

  /** The saga's history, oldest first, as `GET /sagas/{id}/events` shows it. */
  async events(id: string): Promise<SagaEventView[]> {
    return (await this.queries.events(id)) ?? [];
  }

  /** Waits, in real time, until the saga ends (`completed`, `compensated` or `failed`); returns it then. */
  waitForEnd(id: string, options: WaitOptions = {}): Promise<SagaView> {
    return this.untilEnd(id, false, options.timeoutMs ?? this.timeoutMs);
  }

  /** Like `waitForEnd`, but every wait of this saga (a retry's backoff) is skipped as soon as it begins. */
  runToEnd(id: string, options: WaitOptions = {}): Promise<SagaView> {
    return this.untilEnd(id, true, options.timeoutMs ?? this.timeoutMs);
  }

  /**
   * Moves time forward for every saga: whatever waits on a due time (a retry's backoff) waits `ms`
   * less, and runs now if that makes it due. Without `ms`, everything waiting is due now. Returns
   * how many units were waiting.
   */
  async skipTime(ms?: number): Promise<number> {
    if (ms !== undefined && !(ms >= 0)) throw new RangeError(`skipTime(${ms}): ms must be at least 0`);
    return this.clock.skip(ms);
  }

  /**
   * Crashes the first unit that reaches the point, once: its attempt is lost as in a process death,
   * and the engine redelivers it (a crash after the commit leaves the next unit to the reconciler).
   * A crash that has not fired stays armed until its `disarm()`.
   */
  crashAt(point: CrashPoint): ArmedCrash {
    return this.crashes.arm(point);
  }

  /**
   * Runs the saga once without a crash, then once per unit of work it ran and per boundary with a
   * crash there, and checks that every run ends with `expectation.status` and passes
   * `expectation.check`. Throws a `CrashExplorationError` naming each crash that broke something.
   * Give `input` as a function of the run's number when each run needs its own (unique order ids).
   */
  exploreCrashes(
    name: string,
    input: ExplorationInput,
    expectation: CrashExpectation,
  ): Promise<CrashExplorationReport> {
    return exploreCrashes(this, name, input, expectation);
  }

  /** Stops the engine, drops the test's database and deletes its Redis keys. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.crashes.close();
      await this.app.close();
      await this.sql.end({ timeout: 5 });
      await this.environment.destroy();
    })();
    return this.closing;
  }

  private async untilEnd(id: string, skipping: boolean, timeoutMs: number): Promise<SagaView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (skipping) await this.clock.skip(undefined, id);
      const view = await this.view(id);
      if (!(ACTIVE_SAGA_STATUSES as string[]).includes(view.status)) {
        // Crashed units may still be on their way back: let them finish (they change nothing now).
        await this.crashes.settled(id);
        return this.view(id);
      }
      if (Date.now() > deadline) {
        const next = Math.min(...(await this.clock.scheduled(id)).map((u) => u.dueInMs));
        throw new SagaTestTimeoutError(view, timeoutMs, Number.isFinite(next) ? next : null);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
