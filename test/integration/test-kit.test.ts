import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { z } from 'zod';
import * as engineApi from '../../src/saga/index.js';
import { toErrorResponse } from '../../src/saga/api/error-response.js';
import {
  Compensate,
  NonRetryableError,
  Saga,
  Step,
  type CompensationContext,
  type SignalContext,
  type StepContext,
} from '../../src/saga/index.js';
import {
  CrashExplorationError,
  InvalidInputError,
  SagaConflictError,
  SagaEndedError,
  SagaNotFoundError,
  SagaTestKit,
  SagaTestTimeoutError,
  UnknownSagaError,
  UnknownSignalError,
  type CrashBoundary,
  type SagaEventView,
  type SagaView,
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
  /** What each careful effect did, by its idempotency key, until it is undone. */
  private readonly effects = new Map<string, { account: string; delta: number }>();

  called(handler: string, ctx: StepContext): void {
    this.calls.push({ sagaId: ctx.sagaId, handler, attempt: ctx.attempt, key: ctx.idempotencyKey });
  }

  callsOf(sagaId: string, handler: string) {
    return this.calls.filter((c) => c.sagaId === sagaId && c.handler === handler);
  }

  carefully(ctx: StepContext, account: string, delta: number): void {
    if (this.applied.has(ctx.idempotencyKey)) return;
    this.applied.add(ctx.idempotencyKey);
    this.effects.set(ctx.idempotencyKey, { account, delta });
    this.carelessly(ctx, account, delta);
  }

  /** Undoes what the compensated step did, once, if it did anything (its attempt may never have run). */
  undo(ctx: CompensationContext): void {
    const effect = this.effects.get(ctx.stepIdempotencyKey);
    if (!effect) return;
    this.effects.delete(ctx.stepIdempotencyKey);
    this.carelessly(ctx, effect.account, -effect.delta);
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

const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

const Go = z.object({ by: z.string().min(1) });
type Go = z.infer<typeof Go>;
const Window = z.object({ amount: z.number().positive().default(1), timeoutMs: z.int().min(100).optional() });
type Window = z.infer<typeof Window>;

/** hold → approve (waits for signal `go`, for `timeoutMs` if given) → settle; a deadline of a week. */
@Saga({ name: 'approval-window', input: Window, deadlineMs: WEEK })
class ApprovalWindowSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: quick })
  hold(ctx: StepContext<Window>) {
    this.ledger.called('hold', ctx);
    this.ledger.carefully(ctx, 'held', ctx.input.amount);
  }

  @Compensate('hold', { retry: quick })
  release(ctx: CompensationContext<Window>) {
    this.ledger.called('release', ctx);
    this.ledger.undo(ctx);
  }

  @Step({ signal: { name: 'go', schema: Go, timeoutMs: (input: Window) => input.timeoutMs } })
  approve(ctx: SignalContext<Window, Go>) {
    this.ledger.called('approve', ctx);
    return { by: ctx.payload.by };
  }

  @Step({ retry: quick })
  settle(ctx: StepContext<Window>) {
    this.ledger.called('settle', ctx);
    this.ledger.carefully(ctx, 'settled', ctx.input.amount);
  }
}

const FanOut = z.object({ amount: z.number().positive(), failRight: z.boolean().default(false) });
type FanOut = z.infer<typeof FanOut>;
/** Whatever a crash did not let it record, a branch may have done: each undoes its own failed attempt. */
const branch = { group: 'branches', retry: quick, compensateOnFailure: true };

/** open → (left ‖ right) → close; with `failRight`, right fails for good and open and left are undone. */
@Saga({ name: 'fan-out', input: FanOut })
class FanOutSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: quick })
  open(ctx: StepContext<FanOut>) {
    this.ledger.carefully(ctx, 'opened', ctx.input.amount);
  }

  @Compensate('open', { retry: quick })
  reopen(ctx: CompensationContext<FanOut>) {
    this.ledger.undo(ctx);
  }

  @Step(branch)
  left(ctx: StepContext<FanOut>) {
    this.ledger.carefully(ctx, 'left', ctx.input.amount);
  }

  @Compensate('left', { retry: quick })
  undoLeft(ctx: CompensationContext<FanOut>) {
    this.ledger.undo(ctx);
  }

  @Step(branch)
  right(ctx: StepContext<FanOut>) {
    if (ctx.input.failRight) throw new NonRetryableError('the right branch is closed');
    this.ledger.carefully(ctx, 'right', ctx.input.amount);
  }

  @Compensate('right', { retry: quick })
  undoRight(ctx: CompensationContext<FanOut>) {
    this.ledger.undo(ctx);
  }

  @Step({ retry: quick })
  close(ctx: StepContext<FanOut>) {
    this.ledger.carefully(ctx, 'closed', ctx.input.amount);
  }
}

const Chore = z.object({ amount: z.number().positive() });
type Chore = z.infer<typeof Chore>;

/** A child saga: its one step fails its first call, then waits out an hour's backoff. */
@Saga({ name: 'chore', input: Chore })
class ChoreSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: { attempts: 3, backoff: { type: 'fixed', delay: HOUR, maxDelay: HOUR } } })
  work(ctx: StepContext<Chore>) {
    this.ledger.called('work', ctx);
    if (this.ledger.callsOf(ctx.sagaId, 'work').length === 1) throw new Error('busy, call back in an hour');
    this.ledger.carefully(ctx, 'worked', ctx.input.amount);
    return { worked: ctx.input.amount };
  }

  @Compensate('work', { retry: quick })
  unwork(ctx: CompensationContext<Chore>) {
    this.ledger.undo(ctx);
  }
}

const Errand = z.object({ amount: z.number().positive(), failFinish: z.boolean().default(false) });
type Errand = z.infer<typeof Errand>;

/** prepare → delegate (runs a `chore`) → finish; with `failFinish`, the chore is compensated too. */
@Saga({ name: 'errand', input: Errand })
class ErrandSaga {
  constructor(private readonly ledger: Ledger) {}

  @Step({ retry: quick })
  prepare(ctx: StepContext<Errand>) {
    this.ledger.carefully(ctx, 'prepared', ctx.input.amount);
  }

  @Compensate('prepare', { retry: quick })
  unprepare(ctx: CompensationContext<Errand>) {
    this.ledger.undo(ctx);
  }

  @Step({ child: 'chore' })
  delegate(ctx: StepContext<Errand>): Chore {
    return { amount: ctx.input.amount };
  }

  @Step({ retry: quick })
  finish(ctx: StepContext<Errand>) {
    if (ctx.input.failFinish) throw new NonRetryableError('nobody to hand it to');
    this.ledger.carefully(ctx, 'finished', ctx.input.amount);
  }
}

@Module({
  providers: [
    Ledger,
    TransferSaga,
    CarelessRefundSaga,
    FragileSaga,
    PatientSaga,
    ApprovalWindowSaga,
    FanOutSaga,
    ChoreSaga,
    ErrandSaga,
  ],
})
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

  /**
   * Asserts that `action` throws an error of class `type`, which the HTTP API answers with `status`
   * (the kit throws what the route would), with `message` in its message or its issues.
   */
  async function rejects(
    action: Promise<unknown>,
    type: abstract new (...args: never[]) => Error,
    status: number,
    message: RegExp,
  ): Promise<void> {
    const error = await action.then(
      () => assert.fail(`did not throw a ${type.name}`),
      (error: unknown) => error,
    );
    assert.ok(error instanceof type, String(error));
    assert.equal(toErrorResponse(error).statusCode, status);
    const { issues } = error as { issues?: unknown };
    assert.match(`${error.message} ${JSON.stringify(issues ?? [])}`, message);
  }
  const stepOf = (saga: SagaView, name: string) => saga.steps!.find((s) => s.name === name)!;

  it('start passes a delayed start through, and runToEnd skips the wait: an hour later takes milliseconds', async () => {
    const startedAt = Date.now();
    const id = await kit.start('transfer', { amount: 4 }, { delayMs: HOUR });
    const pending = await kit.view(id);
    assert.equal(pending.status, 'pending');
    assert.ok(Math.abs(Date.parse(pending.startAt!) - (startedAt + HOUR)) < 5000, pending.startAt);
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'completed');
    assert.deepEqual([ledger.balance(id, 'from'), ledger.balance(id, 'to')], [-4, 4]);
    assert.ok(Date.now() - startedAt < 5000, `took ${Date.now() - startedAt} ms`);
  });

  it('start passes startAt through; skipTime runs it when its time comes, and returns once it ran', async () => {
    const id = await kit.start('transfer', { amount: 1 }, { startAt: new Date(Date.now() + DAY) });
    assert.equal(await kit.skipTime(DAY - HOUR), 1, 'its first step waits');
    assert.equal((await kit.view(id)).status, 'pending', 'an hour to go');
    await kit.skipTime(HOUR);
    assert.equal((await kit.view(id)).status, 'completed', 'skipTime returns once what came due has run');
  });

  it('start validates its options as POST /sagas/{name} does, and throws what the route answers 400, 404 and 409 with', async () => {
    const transfer = { amount: 1 };
    await rejects(
      kit.start('transfer', transfer, { delayMs: 10, startAt: new Date() }),
      InvalidInputError,
      400,
      /"path":"startAt","message":"give delayMs or startAt, not both"/,
    );
    await rejects(
      kit.start('transfer', transfer, { delayMs: -1 }),
      InvalidInputError,
      400,
      /"path":"delayMs"/,
    );
    await rejects(
      kit.start('transfer', transfer, { delayMs: 1.5 }),
      InvalidInputError,
      400,
      /"path":"delayMs"/,
    );
    await rejects(
      kit.start('transfer', transfer, { deadlineMs: 50 }),
      InvalidInputError,
      400,
      /"path":"deadlineMs","message":"must be at least 100"/,
    );
    await rejects(
      kit.start('transfer', transfer, { startAt: new Date(Date.now() + 2 * 365 * DAY) }),
      InvalidInputError,
      400,
      /must be at most one year ahead/,
    );
    await rejects(
      kit.start('transfer', transfer, { idempotencyKey: 'not a key' }),
      InvalidInputError,
      400,
      /"path":"","message":"must be 1-255 visible ASCII characters"/,
    );
    await rejects(kit.start('transfer', [transfer]), InvalidInputError, 400, /expected a JSON object/);
    await rejects(kit.start('transfer', { amount: -1 }), InvalidInputError, 400, /"path":"amount"/);
    await rejects(kit.start('no-such-saga', transfer), UnknownSagaError, 404, /no-such-saga/);

    const key = `key-${Date.now()}`;
    const id = await kit.start('transfer', transfer, { idempotencyKey: key });
    assert.equal(await kit.start('transfer', transfer, { idempotencyKey: key }), id, 'the same saga, once');
    await rejects(
      kit.start('transfer', { amount: 2 }, { idempotencyKey: key }),
      SagaConflictError,
      409,
      /already used to start saga/,
    );
    assert.equal((await kit.runToEnd(id)).status, 'completed');
  });

  it('signal delivers before the step waits (kept until taken) and once it waits, once per idempotency key', async () => {
    const early = await kit.start('approval-window', { amount: 2 });
    const receipt = await kit.signal(early, 'go', { by: 'ann' }, { idempotencyKey: 'go-1' });
    assert.deepEqual(receipt, { id: early, signal: 'go', status: 'accepted', delivered: true });
    const again = await kit.signal(early, 'go', { by: 'bob' }, { idempotencyKey: 'go-1' });
    assert.equal(again.delivered, false, 'a key already delivered is not delivered again');
    const saga = await kit.runToEnd(early);
    assert.equal(saga.status, 'completed');
    assert.deepEqual(stepOf(saga, 'approve').output, { by: 'ann' });
    assert.deepEqual([ledger.balance(early, 'held'), ledger.balance(early, 'settled')], [2, 2]);

    const late = await kit.start('approval-window', { amount: 3 });
    const waiting = await kit.runUntilWaiting(late, 'go');
    assert.equal(waiting.status, 'running');
    const approve = stepOf(waiting, 'approve');
    assert.deepEqual([approve.status, approve.waitingFor, approve.dueAt], ['waiting', 'go', undefined]);
    assert.equal(ledger.callsOf(late, 'settle').length, 0);
    await kit.signal(late, 'go', { by: 'cy' });
    const approved = await kit.runToEnd(late);
    assert.equal(approved.status, 'completed');
    assert.deepEqual(stepOf(approved, 'approve').output, { by: 'cy' });
    assert.equal(ledger.callsOf(late, 'approve').length, 1);
  });

  it('signal validates as POST /sagas/{id}/signals/{signal} does: 400, 404 and 409 as the engine names them', async () => {
    const id = await kit.start('approval-window', { amount: 1 });
    await rejects(
      kit.signal(id, 'go', { by: '' }),
      InvalidInputError,
      400,
      /^Invalid payload for signal "go" \[\{"path":"by"/,
    );
    await rejects(
      kit.signal(id, 'go', 'yes'),
      InvalidInputError,
      400,
      /expected a JSON object, received a string/,
    );
    await rejects(kit.signal('not-an-id', 'go', {}), InvalidInputError, 400, /Invalid saga id/);
    await rejects(kit.signal(id, 'go!', {}), InvalidInputError, 400, /Invalid signal name/);
    await rejects(kit.signal(id, 'stop', {}), UnknownSignalError, 404, /declares no signal "stop"/);
    await rejects(
      kit.signal('00000000-0000-7000-8000-000000000000', 'go', { by: 'ann' }),
      SagaNotFoundError,
      404,
      /00000000-0000-7000-8000-000000000000/,
    );
    await kit.signal(id, 'go', { by: 'ann' });
    assert.equal((await kit.runToEnd(id)).status, 'completed');
    await rejects(kit.signal(id, 'go', { by: 'ann' }), SagaConflictError, 409, /already completed/);
  });

  it('runToEnd fails a wait step with SignalTimeout after a day, without sleeping; what came before is undone once', async () => {
    const startedAt = Date.now();
    const id = await kit.start('approval-window', { amount: 3, timeoutMs: DAY });
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.name, 'SignalTimeout');
    assert.deepEqual(
      [stepOf(saga, 'approve').status, stepOf(saga, 'approve').error?.name],
      ['failed', 'SignalTimeout'],
    );
    assert.equal(stepOf(saga, 'hold').status, 'compensated');
    assert.deepEqual([ledger.balance(id, 'held'), ledger.callsOf(id, 'release').length], [0, 1]);
    assert.equal(ledger.callsOf(id, 'approve').length, 0);
    assert.ok(Date.now() - startedAt < 5000, `took ${Date.now() - startedAt} ms`);
  });

  it('runUntilWaiting says so when the saga ends before the step waits', async () => {
    const id = await kit.start('transfer', { amount: 1 });
    await assert.rejects(kit.runUntilWaiting(id, 'go'), (error: Error) => {
      assert.ok(error instanceof SagaEndedError, String(error));
      assert.match(
        error.message,
        /ended before a step waited for signal "go": saga [\w-]+ \(transfer\) is completed/,
      );
      return true;
    });
  });

  it('a wait without a timeout is never skipped: the kit says which signal it waits for', async () => {
    const id = await kit.start('approval-window', { amount: 1 }, { deadlineMs: HOUR });
    await assert.rejects(kit.waitForEnd(id, { timeoutMs: 300 }), (error: Error) => {
      assert.ok(error instanceof SagaTestTimeoutError, String(error));
      assert.match(
        error.message,
        /approve waiting \(0 attempts, waits for signal "go"\).*nothing sends signal "go"/,
      );
      return true;
    });
    // Its deadline is a due time, though: runToEnd skips to it.
    const saga = await kit.runToEnd(id);
    assert.deepEqual([saga.status, saga.error?.name], ['compensated', 'DeadlineExceeded']);
  });

  it('skipTime lets a deadline of a week pass, and not before; a timeout of a day comes due before it', async () => {
    const id = await kit.start('approval-window', { amount: 5 });
    await kit.runUntilWaiting(id, 'go');
    await kit.skipTime(6 * DAY);
    const waiting = await kit.view(id);
    assert.deepEqual([waiting.status, stepOf(waiting, 'approve').status], ['running', 'waiting']);
    await kit.skipTime(DAY);
    const late = await kit.view(id);
    assert.deepEqual([late.status, late.error?.name], ['compensated', 'DeadlineExceeded']);
    assert.equal(ledger.balance(id, 'held'), 0);

    // Both due within the week: time passes in order, so the day's timeout ends it first.
    const both = await kit.start('approval-window', { amount: 1, timeoutMs: DAY });
    await kit.skipTime(WEEK);
    const timedOut = await kit.view(both);
    assert.deepEqual([timedOut.status, timedOut.error?.name], ['compensated', 'SignalTimeout']);
  });

  it("runToEnd of a parent waits for its child saga, and skips the child's waits (an hour's backoff)", async () => {
    const startedAt = Date.now();
    const id = await kit.start('errand', { amount: 6 });
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'completed');
    const [child] = saga.children!;
    assert.deepEqual(
      { ...child, id: undefined },
      { id: undefined, name: 'chore', status: 'completed', step: 'delegate' },
    );
    const chore = await kit.view(child.id);
    assert.equal(stepOf(chore, 'work').attempts, 2);
    assert.deepEqual(stepOf(saga, 'delegate').output, chore.output);
    assert.deepEqual(
      [ledger.balance(id, 'prepared'), ledger.balance(child.id, 'worked'), ledger.balance(id, 'finished')],
      [6, 6, 6],
    );
    assert.ok(Date.now() - startedAt < 5000, `took ${Date.now() - startedAt} ms`);
  });

  it('skipTime moves the time of child sagas too', async () => {
    const id = await kit.start('errand', { amount: 1 });
    const parent = await kit.runUntil(id, (saga) => (saga.children?.length ?? 0) > 0);
    const childId = parent.children![0].id;
    // Until its first call failed: runUntil never moves time past a state in which its condition holds.
    const chore = await kit.runUntil(
      childId,
      (c) => stepOf(c, 'work').attempts === 1 && stepOf(c, 'work').status === 'pending',
    );
    assert.ok(Date.parse(stepOf(chore, 'work').dueAt!) - Date.now() > HOUR - 60_000, 'an hour to wait');
    await kit.skipTime(HOUR - 60_000);
    assert.equal(stepOf(await kit.view(childId), 'work').attempts, 1, 'a minute to go');
    assert.equal((await kit.view(id)).status, 'running');
    await kit.skipTime(60_000);
    assert.deepEqual(
      [(await kit.view(childId)).status, (await kit.view(id)).status],
      ['completed', 'completed'],
    );
  });

  it('exploreCrashes over a parallel group: each branch crashed at every boundary, each effect once', async () => {
    const report = await kit.exploreCrashes(
      'fan-out',
      { amount: 2 },
      {
        status: 'completed',
        check: (saga) => {
          for (const account of ['opened', 'left', 'right', 'closed'])
            assert.equal(ledger.balance(saga.id, account), 2, account);
        },
      },
    );
    assert.deepEqual(report.units.map((u) => u.step).sort(), ['close', 'left', 'open', 'right']);
    assert.equal(report.runs.length, 1 + 4 * 3);
  });

  // Found an engine bug (fixed): an attempt that ran, but whose worker died before recording it,
  // was taken for one never started once its redelivery found the saga compensating.
  it('exploreCrashes over a parallel group that fails: whatever a branch did is undone once', async () => {
    const report = await kit.exploreCrashes(
      'fan-out',
      { amount: 2, failRight: true },
      {
        status: 'compensated',
        check: (saga) => {
          for (const account of ['opened', 'left', 'right', 'closed'])
            assert.equal(ledger.balance(saga.id, account), 0, account);
        },
      },
    );
    assert.deepEqual(report.units.map((u) => `${u.phase}:${u.step}`).sort(), [
      'compensation:left',
      'compensation:open',
      'compensation:right',
      'step:left',
      'step:open',
      'step:right',
    ]);
  });

  for (const when of ['waiting', 'start'] as const) {
    it(`exploreCrashes sends the signals of each run (${when === 'waiting' ? 'once the step waits' : 'at the start'}) and crashes the wait step's units too`, async () => {
      const report = await kit.exploreCrashes(
        'approval-window',
        { amount: 4, timeoutMs: DAY },
        {
          status: 'completed',
          signals: [{ name: 'go', payload: (run: number) => ({ by: `run-${run}` }), when }],
          check: (saga) => {
            assert.deepEqual([ledger.balance(saga.id, 'held'), ledger.balance(saga.id, 'settled')], [4, 4]);
          },
        },
      );
      assert.deepEqual(
        report.units.map((u) => `${u.phase}:${u.step}:${u.attempt}`),
        ['step:hold:1', 'step:approve:1', 'step:settle:1'],
      );
      assert.equal(report.runs.length, 1 + 3 * 3);
      const payloads = await Promise.all(
        report.runs.map(async (run) => stepOf(await kit.view(run.sagaId!), 'approve').output),
      );
      assert.deepEqual(
        payloads,
        report.runs.map((_, run) => ({ by: `run-${run}` })),
      );
    });
  }

  it('exploreCrashes starts each run with the start options, and lets drive steer it', async () => {
    const report = await kit.exploreCrashes(
      'approval-window',
      { amount: 1 },
      {
        status: 'completed',
        boundaries: ['afterHandler'],
        start: { delayMs: HOUR },
        drive: async (kit, id, run) => {
          assert.equal((await kit.view(id)).status, 'pending', 'an hour before it starts');
          await kit.runUntilWaiting(id, 'go');
          await kit.signal(id, 'go', { by: `drive-${run}` });
        },
        check: (saga) =>
          assert.deepEqual([ledger.balance(saga.id, 'held'), ledger.balance(saga.id, 'settled')], [1, 1]),
      },
    );
    assert.equal(report.runs.length, 1 + 3);
    const views = await Promise.all(report.runs.map((run) => kit.view(run.sagaId!)));
    assert.deepEqual(
      views.map((saga) => stepOf(saga, 'approve').output),
      views.map((_, run) => ({ by: `drive-${run}` })),
    );
  });

  for (const failFinish of [false, true]) {
    it(`exploreCrashes crashes the units of a child saga too (${failFinish ? 'compensated with its parent' : 'completed'}), each effect once`, async () => {
      const expected = failFinish ? 0 : 3;
      const report = await kit.exploreCrashes(
        'errand',
        { amount: 3, failFinish },
        {
          status: failFinish ? 'compensated' : 'completed',
          check: async (saga) => {
            const [child] = saga.children!;
            assert.equal(child.status, failFinish ? 'compensated' : 'completed');
            assert.equal(ledger.balance(saga.id, 'prepared'), expected, 'prepared');
            assert.equal(ledger.balance(child.id, 'worked'), expected, 'worked');
            assert.equal(ledger.balance(saga.id, 'finished'), expected, 'finished');
          },
        },
      );
      const units = report.units.map(
        (u) => `${u.phase}:${u.step}:${u.attempt}${u.via ? ` in ${u.saga} via ${u.via}` : ''}`,
      );
      assert.deepEqual(units, [
        'step:prepare:1',
        'step:delegate:1',
        'step:work:1 in chore via delegate',
        'step:work:2 in chore via delegate',
        'step:finish:1',
        ...(failFinish ? ['compensation:work:1 in chore via delegate', 'compensation:prepare:1'] : []),
      ]);
    });
  }

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
