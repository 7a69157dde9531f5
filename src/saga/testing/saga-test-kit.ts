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
import postgres from 'postgres';
import { SagaDispatcher } from '../execution/saga-dispatcher.js';
import { LimitedQueues } from '../execution/limited-queues.js';
import { SagaReconciler } from '../execution/saga-reconciler.js';
import { SagaService, type SignalReceipt } from '../execution/saga.service.js';
import { UNIT_BOUNDARY_HOOK } from '../execution/unit-boundary-hook.js';
import { SagaModule } from '../saga.module.js';
import type { SagaModuleOptions } from '../saga-module-options.js';
import {
  assertJsonObjectBody,
  idempotencyKeySchema,
  parseRequest,
  sagaIdSchema,
  signalNameSchema,
  startQuerySchema,
} from '../api/request-schemas.js';
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
import { SagaEndedError } from './saga-ended.error.js';
import { SagaTestTimeoutError } from './saga-test-timeout.error.js';
import { SagaTree } from './saga-tree.js';
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

/** How `start` starts a saga: the `Idempotency-Key` header and the query of `POST /sagas/{name}`. */
export interface StartOptions {
  /** A second start with this key and the same input returns the first saga; with another input, a SagaConflictError. @defaultValue none */
  idempotencyKey?: string;
  /** Starts it this long from now (0 .. 1 year); it is `pending` until then. Not with `startAt`. @defaultValue 0 */
  delayMs?: number;
  /** Starts it at this time (at most a year ahead); not with `delayMs`. @defaultValue now */
  startAt?: Date | string;
  /** Its deadline, in ms from its start (at least 100), instead of the saga's own. @defaultValue the saga's `deadlineMs` */
  deadlineMs?: number;
}

export interface SignalOptions {
  /** A signal with a key already delivered to this saga is not delivered again (`delivered: false`). @defaultValue none */
  idempotencyKey?: string;
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
  private readonly tree: SagaTree;
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
    const queues = this.get(LimitedQueues);
    const database = this.get(SagaDatabase);
    this.tree = new SagaTree(database);
    this.clock = new SagaClock(database, queues, this.get(SagaDispatcher));
    crashes.attach({ queues, clock: this.clock, reconciler: this.get(SagaReconciler), tree: this.tree });
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

  /**
   * Starts a saga and returns its id; its input and options are validated as `POST /sagas/{name}`
   * validates them (an InvalidInputError, UnknownSagaError or SagaConflictError otherwise). A
   * delayed start is `pending` until then: `runToEnd` and `skipTime` skip that wait too.
   */
  async start(name: string, input: unknown, options: StartOptions = {}): Promise<string> {
    const { idempotencyKey, delayMs, startAt, deadlineMs } = options;
    const key = parseRequest(idempotencyKeySchema, idempotencyKey, 'idempotencyKey');
    // The query's own schema, so that the kit accepts exactly what the route does.
    const timing = parseRequest(
      startQuerySchema,
      {
        ...(delayMs === undefined ? {} : { delayMs: String(delayMs) }),
        ...(startAt === undefined ? {} : { startAt: isoString(startAt) }),
        ...(deadlineMs === undefined ? {} : { deadlineMs: String(deadlineMs) }),
      },
      'start options',
    );
    assertJsonObjectBody(input);
    return (await this.service.start(name, input, { idempotencyKey: key, ...timing })).id;
  }

  /**
   * Sends a signal to the saga, as `POST /sagas/{id}/signals/{signal}` does: kept until the step
   * that waits for it takes it (it may be sent before the step waits). A payload that fails the
   * signal's schema is an InvalidInputError; an unknown saga, or a signal its definition does not
   * declare, a SagaNotFoundError or UnknownSignalError; a saga that has ended, a SagaConflictError.
   */
  async signal(
    sagaId: string,
    signal: string,
    payload: unknown,
    options: SignalOptions = {},
  ): Promise<SignalReceipt> {
    const id = parseRequest(sagaIdSchema, sagaId, 'saga id');
    const name = parseRequest(signalNameSchema, signal, 'signal name');
    const key = parseRequest(idempotencyKeySchema, options.idempotencyKey, 'idempotencyKey');
    assertJsonObjectBody(payload);
    return this.service.signal(id, name, payload, { idempotencyKey: key });
  }

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
    return this.run(id, { skipping: false, timeoutMs: options.timeoutMs ?? this.timeoutMs });
  }

  /**
   * Like `waitForEnd`, but time is skipped: whenever the saga and its child sagas have nothing to do
   * but wait (a retry's backoff, a delayed start, a signal's timeout, its deadline), time moves on
   * to the next of those due times at once. A wait for a signal without a timeout is never skipped:
   * send the signal first (it is kept until the step takes it), or use `runUntilWaiting`.
   */
  runToEnd(id: string, options: WaitOptions = {}): Promise<SagaView> {
    return this.run(id, { skipping: true, timeoutMs: options.timeoutMs ?? this.timeoutMs });
  }

  /**
   * Runs the saga as `runToEnd` does until `until(saga)` holds, and returns it then; time never moves
   * past a state in which it holds. Throws a SagaEndedError if the saga ends first (and `until` does
   * not hold for it); `options.description` says what was awaited, for its message.
   */
  runUntil(
    id: string,
    until: (saga: SagaView) => boolean,
    options: WaitOptions & { description?: string } = {},
  ): Promise<SagaView> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const awaited = options.description ?? 'its condition held';
    return this.run(id, { skipping: true, timeoutMs, until, awaited });
  }

  /**
   * Runs the saga as `runToEnd` does until one of its steps waits for `signal` (any signal, without
   * it), before that wait's timeout is skipped, and returns it then: the moment to send the signal.
   */
  runUntilWaiting(id: string, signal?: string, options: WaitOptions = {}): Promise<SagaView> {
    const description =
      signal === undefined ? 'a step waited for a signal' : `a step waited for signal "${signal}"`;
    return this.runUntil(
      id,
      (saga) =>
        (saga.steps ?? []).some(
          (s) => s.waitingFor !== undefined && (signal === undefined || s.waitingFor === signal),
        ),
      { ...options, description },
    );
  }

  /**
   * Moves time `ms` forward for every saga, as it would pass: whenever nothing runs and nothing is
   * due, to the next due time (a backoff, a delayed start, a signal's timeout, a deadline), and what
   * comes due runs before time moves on; what is due later than `ms` is `ms` nearer. Without `ms`,
   * until nothing waits for a time any more. Returns once nothing runs; and how many units' due
   * times moved. Throws a TimeSkipTimeoutError if work keeps running for the kit's `timeoutMs`.
   */
  async skipTime(ms?: number): Promise<number> {
    if (ms !== undefined && !(ms >= 0)) throw new RangeError(`skipTime(${ms}): ms must be at least 0`);
    return this.clock.skip(ms, this.timeoutMs);
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

  /**
   * Polls the saga until it ends (or `until` holds), moving time on when `skipping`. Time moves only
   * if the saga and its children are still as they were when it was looked at, so that it never
   * moves past a state in which `until` held.
   */
  private async run(
    id: string,
    options: { skipping: boolean; timeoutMs: number; until?: (saga: SagaView) => boolean; awaited?: string },
  ): Promise<SagaView> {
    const deadline = Date.now() + options.timeoutMs;
    let fingerprint = options.skipping ? await this.clock.fingerprint(id) : undefined;
    for (;;) {
      const view = await this.view(id);
      const ended = !(ACTIVE_SAGA_STATUSES as string[]).includes(view.status);
      if (options.until?.(view)) return view;
      if (ended) {
        if (options.until) throw new SagaEndedError(view, options.awaited!);
        // Crashed units may still be on their way back: let them finish (they change nothing now).
        for (const member of await this.tree.ids(id)) await this.crashes.settled(member);
        return this.view(id);
      }
      if (Date.now() > deadline) {
        const next = Math.min(...(await this.clock.scheduled(id)).map((u) => u.dueInMs));
        throw new SagaTestTimeoutError(view, options.timeoutMs, Number.isFinite(next) ? next : null);
      }
      if (options.skipping) {
        const step = await this.clock.advance({ root: id, fingerprint });
        if (step.busy.length > 0) await this.clock.bringDueJobsIn(id);
        fingerprint = step.fingerprint;
        // Time moved: what came due is on its way; look again at once.
        if (step.movedMs !== null) continue;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

function isoString(at: Date | string): string {
  if (typeof at === 'string') return at;
  return Number.isNaN(at.getTime()) ? 'Invalid Date' : at.toISOString();
}
