import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { z } from 'zod';
import * as engineApi from '../../src/saga/index.js';
import {
  Compensate,
  NonRetryableError,
  Saga,
  Step,
  type CompensationContext,
  type StepContext,
} from '../../src/saga/index.js';
import {
  CrashExplorationError,
  SagaTestKit,
  SagaTestTimeoutError,
  type CrashBoundary,
  type SagaEventView,
} from '../../src/saga/testing/index.js';

const Transfer = z.object({ amount: z.number().positive(), failNotify: z.boolean().default(false) });
type Transfer = z.infer<typeof Transfer>;

/**
 * What the fixture sagas' handlers did: every call, and the balances their side effects moved.
 * A careful effect is applied once per idempotency key; a careless one on every call.
 */
@Injectable()
class Ledger {
  readonly calls: { sagaId: string; handler: string; attempt: number; key: string }[] = [];
  readonly balances = new Map<string, number>();
  private readonly applied = new Set<string>();

  called(handler: string, ctx: StepContext): void {
    this.calls.push({ sagaId: ctx.sagaId, handler, attempt: ctx.attempt, key: ctx.idempotencyKey });
  }

  callsOf(sagaId: string, handler: string) {
    return this.calls.filter((c) => c.sagaId === sagaId && c.handler === handler);
  }

  carefully(ctx: StepContext, account: string, delta: number): void {
    if (this.applied.has(ctx.idempotencyKey)) return;
    this.applied.add(ctx.idempotencyKey);
    this.carelessly(ctx, account, delta);
  }

  carelessly(ctx: StepContext, account: string, delta: number): void {
    this.balances.set(`${ctx.sagaId}:${account}`, this.balance(ctx.sagaId, account) + delta);
  }

  balance(sagaId: string, account: string): number {
    return this.balances.get(`${sagaId}:${account}`) ?? 0;
  }
}

const quick = { attempts: 3, backoff: { type: 'fixed' as const, delay: 20 } };

/** debit → credit → notify; with `failNotify`, notify fails for good and credit, then debit, are undone. */
@Saga({ name: 'transfer', input: Transfer })
class TransferSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: quick })
  debit(ctx: StepContext<Transfer>) {
    this.ledger.called('debit', ctx);
    this.ledger.carefully(ctx, 'from', -ctx.input.amount);
    return { debited: ctx.input.amount };
  }

  @Compensate('debit', { retry: quick })
  refundDebit(ctx: CompensationContext<Transfer>) {
    this.ledger.called('refundDebit', ctx);
    this.ledger.carefully(ctx, 'from', ctx.input.amount);
  }

  @Step({ retry: quick })
  credit(ctx: StepContext<Transfer>) {
    this.ledger.called('credit', ctx);
    this.ledger.carefully(ctx, 'to', ctx.input.amount);
  }

  @Compensate('credit', { retry: quick })
  reverseCredit(ctx: CompensationContext<Transfer>) {
    this.ledger.called('reverseCredit', ctx);
    this.ledger.carefully(ctx, 'to', -ctx.input.amount);
  }

  @Step({ retry: quick })
  notify(ctx: StepContext<Transfer>) {
    this.ledger.called('notify', ctx);
    if (ctx.input.failNotify) throw new NonRetryableError('the beneficiary cannot be reached');
  }
}

/** Deliberately broken: its refund gives the money back on every call, whatever the idempotency key. */
@Saga({ name: 'careless-refund', input: Transfer })
class CarelessRefundSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: quick })
  debit(ctx: StepContext<Transfer>) {
    this.ledger.carefully(ctx, 'from', -ctx.input.amount);
  }

  @Compensate('debit', { retry: quick })
  refund(ctx: CompensationContext<Transfer>) {
    this.ledger.carelessly(ctx, 'from', ctx.input.amount);
  }

  @Step({ retry: quick })
  ship() {
    throw new NonRetryableError('out of stock');
  }
}

/** Deliberately fragile: one attempt allowed, so a crash before its outcome is recorded spends its whole budget. */
@Saga({ name: 'fragile', input: z.object({}) })
class FragileSaga {
  @Step({ retry: { attempts: 1 } })
  book() {
    return { booked: true };
  }
}

/** Fails its first call, then waits out a 10-minute backoff before the second. */
@Saga({ name: 'patient', input: z.object({}) })
class PatientSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: { attempts: 2, backoff: { type: 'fixed', delay: 10 * 60_000, maxDelay: 10 * 60_000 } } })
  call(ctx: StepContext) {
    this.ledger.called('call', ctx);
    if (this.ledger.callsOf(ctx.sagaId, 'call').length === 1) throw new Error('the partner is down');
  }
}

@Module({ providers: [Ledger, TransferSaga, CarelessRefundSaga, FragileSaga, PatientSaga] })
class FixtureModule {}

/** Needs what the kit's `providers` option provides. */
@Injectable()
class Greeter {
  constructor(@Inject('GREETING') readonly greeting: string) {}
}

@Module({ providers: [Greeter] })
class GreeterModule {}

const BOUNDARIES: CrashBoundary[] = ['beforeHandler', 'afterHandler', 'afterCommit'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ofType = (events: SagaEventView[], type: string, step?: string) =>
  events.filter((e) => e.type === type && (step === undefined || e.step === step));

describe('SagaTestKit', () => {
  let kit: SagaTestKit;
  let ledger: Ledger;

  before(async () => {
    kit = await SagaTestKit.create({ imports: [FixtureModule] });
    ledger = kit.get(Ledger);
  });
  after(() => kit?.close());

  it('is not part of the engine entry point', () => {
    assert.equal('SagaTestKit' in engineApi, false);
  });

  for (const boundary of BOUNDARIES) {
    it(`a crash ${boundary} of a step is a redelivery, not a failure: the saga completes and each effect happens once`, async () => {
      const crash = kit.crashAt({ saga: 'transfer', step: 'credit', boundary });
      const id = await kit.start('transfer', { amount: 10 });
      const saga = await kit.runToEnd(id);
      assert.equal(crash.firedIn, id);
      assert.deepEqual(crash.unit, { step: 'credit', phase: 'step', attempt: 1 });
      assert.equal(saga.status, 'completed');

      const events = await kit.events(id);
      assert.deepEqual(ofType(events, 'step_failed'), [], 'a crash is never recorded as a step error');
      assert.equal(ofType(events, 'step_completed', 'credit').length, 1, 'the transition is recorded once');
      assert.deepEqual([ledger.balance(id, 'from'), ledger.balance(id, 'to')], [-10, 10]);
      const credits = ledger.callsOf(id, 'credit');
      const credit = saga.steps!.find((s) => s.name === 'credit')!;
      if (boundary === 'beforeHandler') {
        // The crashed attempt was claimed, its handler never called; the redelivery claims another.
        assert.deepEqual(
          credits.map((c) => c.attempt),
          [2],
        );
        assert.equal(credit.attempts, 2);
      } else if (boundary === 'afterHandler') {
        // The handler ran, its outcome was lost, so it runs again: at least once, with one key.
        assert.deepEqual(
          credits.map((c) => c.attempt),
          [1, 2],
        );
        assert.equal(new Set(credits.map((c) => c.key)).size, 1);
        assert.equal(credit.attempts, 2);
      } else {
        // Recorded before the crash: never run again; the next unit, claimed by that commit but
        // never enqueued, is brought back by the reconciler and runs the attempt already counted.
        assert.equal(credits.length, 1);
        assert.equal(credit.attempts, 1);
        assert.deepEqual(
          ofType(events, 'step_started', 'notify').map((e) => e.attempt),
          [1],
        );
      }
      assert.equal(ledger.callsOf(id, 'notify').length, 1);
    });

    it(`a crash ${boundary} of a compensation is a redelivery too: the saga is compensated, each effect undone once`, async () => {
      const crash = kit.crashAt({ saga: 'transfer', step: 'credit', phase: 'compensation', boundary });
      const id = await kit.start('transfer', { amount: 7, failNotify: true });
      const saga = await kit.runToEnd(id);
      assert.equal(crash.firedIn, id);
      assert.equal(saga.status, 'compensated');
      const events = await kit.events(id);
      assert.deepEqual(ofType(events, 'compensation_failed'), []);
      assert.deepEqual(
        ofType(events, 'compensation_completed').map((e) => e.step),
        ['credit', 'debit'],
      );
      assert.deepEqual([ledger.balance(id, 'from'), ledger.balance(id, 'to')], [0, 0]);
      const reversals = ledger.callsOf(id, 'reverseCredit').map((c) => c.attempt);
      assert.deepEqual(reversals, { beforeHandler: [2], afterHandler: [1, 2], afterCommit: [1] }[boundary]);
      assert.equal(ledger.callsOf(id, 'refundDebit').length, 1);
    });
  }

  it('crashAt fires once, at the attempt it names', async () => {
    const crash = kit.crashAt({ saga: 'transfer', step: 'debit', boundary: 'beforeHandler', attempt: 2 });
    const id = await kit.start('transfer', { amount: 1 });
    assert.equal((await kit.runToEnd(id)).status, 'completed');
    assert.equal(crash.firedIn, undefined, 'attempt 2 never ran, so nothing crashed');
    crash.disarm();
    const again = await kit.start('transfer', { amount: 1 });
    kit.crashAt({ saga: 'transfer', step: 'debit', boundary: 'beforeHandler' });
    await kit.runToEnd(again);
    assert.deepEqual(
      ledger.callsOf(again, 'debit').map((c) => c.attempt),
      [2],
      'a disarmed crash never fires; the next one fires at the first attempt',
    );
  });

  it('exploreCrashes runs every unit with a crash at every boundary, and passes a saga that survives them', async () => {
    const report = await kit.exploreCrashes(
      'transfer',
      { amount: 5, failNotify: true },
      {
        status: 'compensated',
        check: (saga) => {
          assert.deepEqual([ledger.balance(saga.id, 'from'), ledger.balance(saga.id, 'to')], [0, 0]);
        },
      },
    );
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}:${u.attempt}`),
      ['step:debit:1', 'step:credit:1', 'step:notify:1', 'compensation:credit:1', 'compensation:debit:1'],
    );
    assert.equal(report.runs.length, 1 + 5 * 3);
    assert.ok(report.runs.every((run) => run.status === 'compensated' && !run.problem));
  });

  it('exploreCrashes catches a compensation that is not idempotent, and names the crash that shows it', async () => {
    const error = await kit
      .exploreCrashes(
        'careless-refund',
        { amount: 3 },
        {
          status: 'compensated',
          check: (saga) => assert.equal(ledger.balance(saga.id, 'from'), 0, 'the debit is refunded exactly'),
        },
      )
      .then(
        () => assert.fail('exploreCrashes passed a compensation that refunds twice'),
        (error: unknown) => error,
      );
    assert.ok(error instanceof CrashExplorationError, String(error));
    assert.deepEqual(
      error.failures.map((run) => run.crash),
      [{ boundary: 'afterHandler', unit: { step: 'debit', phase: 'compensation', attempt: 1 } }],
    );
    assert.equal(error.runs.length, 1 + 3 * 3);
    assert.match(
      error.message,
      /1 of 10 runs went wrong:\n {2}- crash after the handler of the compensation of debit \(attempt 1\) \(saga [\w-]+\): check failed: the debit is refunded exactly/,
    );
  });

  it('exploreCrashes catches a step whose retry budget a crash exhausts', async () => {
    const error = await kit.exploreCrashes('fragile', {}, { status: 'completed' }).then(
      () => assert.fail('exploreCrashes passed a step that cannot survive a crash'),
      (error: unknown) => error,
    );
    assert.ok(error instanceof CrashExplorationError, String(error));
    assert.deepEqual(
      error.failures.map((run) => run.crash?.boundary),
      ['beforeHandler', 'afterHandler'],
    );
    for (const run of error.failures) {
      assert.match(
        run.problem!,
        /^ended compensated, expected completed: book failed \(2 attempts, last error AttemptsExhausted/,
      );
    }
  });

  it('runToEnd skips a 10-minute retry backoff', async () => {
    const startedAt = Date.now();
    const id = await kit.start('patient', {});
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'completed');
    assert.ok(Date.now() - startedAt < 10_000, `took ${Date.now() - startedAt} ms`);
    const failure = ofType(await kit.events(id), 'step_failed');
    assert.deepEqual(
      failure.map((e) => (e.data as { retryInMs: number }).retryInMs),
      [600_000],
    );
  });

  it('skipTime moves due times forward by what it is told, and no further', async () => {
    const id = await kit.start('patient', {});
    const failed = async () => ofType(await kit.events(id), 'step_failed').length === 1;
    while (!(await failed())) await sleep(20);

    assert.equal(await kit.skipTime(5 * 60_000), 1, 'one unit waits');
    await sleep(300);
    assert.equal(ofType(await kit.events(id), 'step_started').length, 1, 'still 5 minutes to wait');
    await assert.rejects(kit.waitForEnd(id, { timeoutMs: 200 }), (error: Error) => {
      assert.ok(error instanceof SagaTestTimeoutError);
      assert.match(
        error.message,
        /is running: call pending \(1 attempt, last error Error: the partner is down\); its next unit is due in (29\d|300)\.\d s \(waitForEnd waits in real time/,
      );
      return true;
    });

    await kit.skipTime(5 * 60_000);
    assert.equal((await kit.waitForEnd(id, { timeoutMs: 5000 })).status, 'completed');
  });

  it('creates its own database and BullMQ prefix, applies the application migrations, provides extra providers, and removes both on close', async () => {
    const migrations = await mkdtemp(join(tmpdir(), 'saga-kit-migrations-'));
    await mkdir(join(migrations, 'meta'));
    await writeFile(join(migrations, '0000_accounts.sql'), 'CREATE TABLE accounts (id text PRIMARY KEY);');
    await writeFile(
      join(migrations, 'meta', '_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: [{ idx: 0, version: '7', when: 1_700_000_000_000, tag: '0000_accounts', breakpoints: true }],
      }),
    );
    const other = await SagaTestKit.create({
      imports: [FixtureModule, GreeterModule],
      providers: [{ provide: 'GREETING', useValue: 'hello' }],
      migrationsFolder: migrations,
      prepare: ({ sql }) => sql`INSERT INTO accounts VALUES ('seeded')`,
    });
    const redis = new Redis(other.redisUrl);
    try {
      assert.notEqual(other.databaseUrl, kit.databaseUrl);
      assert.notEqual(other.queuePrefix, kit.queuePrefix);
      assert.deepEqual([...(await other.sql`SELECT id FROM accounts`)], [{ id: 'seeded' }]);
      assert.equal(other.get(Greeter).greeting, 'hello');
      const id = await other.start('transfer', { amount: 2 });
      assert.equal((await other.runToEnd(id)).status, 'completed');
      assert.ok((await redis.keys(`${other.queuePrefix}:*`)).length > 0);
      await other.close();
      const name = new URL(other.databaseUrl).pathname.slice(1);
      assert.deepEqual([...(await kit.sql`SELECT 1 FROM pg_database WHERE datname = ${name}`)], []);
      assert.deepEqual(await redis.keys(`${other.queuePrefix}:*`), []);
    } finally {
      await other.close();
      redis.disconnect();
      await rm(migrations, { recursive: true });
    }
  });
});
