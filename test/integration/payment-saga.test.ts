import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DECLINED_CARD, FLAKY_CARD } from '../../sagas/payment/card-acquirer.service.js';
import { PaymentModule } from '../../sagas/payment/payment.module.js';
import type { PaymentInput } from '../../sagas/payment/payment.input.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { SagaTestKit, type SagaView } from '../../src/saga/testing/index.js';

const CARD = '4242424242424242';

/** A payment of its own (the acquirer refuses captures of payments named 'refused…'). */
const payment = (card = CARD, prefix = 'payment'): PaymentInput => ({
  paymentId: `${prefix}-${Math.random().toString(36).slice(2)}`,
  amount: 120.5,
  card,
});

/** The payment saga, with the test kit, against its real acquirer ledgers in Postgres. */
describe('payment saga', () => {
  let kit: SagaTestKit;

  before(async () => {
    kit = await SagaTestKit.create({
      imports: ({ databaseUrl }) => [DatabaseModule.forRoot(databaseUrl), PaymentModule],
      migrationsFolder: fileURLToPath(new URL('../../../drizzle', import.meta.url)),
      // An acquirer that refuses to capture payments named 'refused…': the one way a payment fails
      // after its authorization, so the one that voids it.
      prepare: ({ sql }) =>
        sql.unsafe(`
          CREATE FUNCTION refuse_captures() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF NEW.payment_id LIKE 'refused%' THEN RAISE EXCEPTION 'capture of % refused', NEW.payment_id; END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER refuse_captures BEFORE INSERT ON card_captures
            FOR EACH ROW EXECUTE FUNCTION refuse_captures();`),
    });
  });
  after(() => kit?.close());

  /** The payment's rows in the acquirer's ledgers. */
  async function ledgersOf(saga: SagaView) {
    const { paymentId } = saga.input as PaymentInput;
    const authorizations = await kit.sql`
      SELECT key, status, calls, amount::float8 AS amount, authorized_at IS NOT NULL AS authorized,
        voided_at IS NOT NULL AS voided
      FROM card_authorizations WHERE payment_id = ${paymentId}`;
    const captures = await kit.sql`
      SELECT key, authorization_key, amount::float8 AS amount, refunded_at IS NOT NULL AS refunded
      FROM card_captures WHERE payment_id = ${paymentId}`;
    return {
      authorizations: authorizations.map(({ calls: _, ...a }) => a),
      calls: authorizations.map((a) => a.calls as number),
      captures: captures.map((c) => ({ ...c })),
    };
  }

  /** Exactly what a completed payment leaves: one authorization, held, and one capture of it. */
  async function assertCapturedOnce(saga: SagaView) {
    const ledgers = await ledgersOf(saga);
    const authorization = `${saga.id}:authorize`;
    assert.deepEqual(ledgers.authorizations, [
      { key: authorization, status: 'authorized', amount: 120.5, authorized: true, voided: false },
    ]);
    assert.deepEqual(ledgers.captures, [
      { key: `${saga.id}:capture`, authorization_key: authorization, amount: 120.5, refunded: false },
    ]);
  }

  /** Exactly what a declined payment leaves: a declined authorization and nothing captured. */
  async function assertDeclinedOnce(saga: SagaView) {
    const ledgers = await ledgersOf(saga);
    assert.deepEqual(ledgers.authorizations, [
      { key: `${saga.id}:authorize`, status: 'declined', amount: 120.5, authorized: false, voided: false },
    ]);
    assert.deepEqual(ledgers.captures, []);
  }

  /** Exactly what a payment whose capture was refused leaves: its authorization voided once, nothing captured. */
  async function assertVoidedOnce(saga: SagaView) {
    const ledgers = await ledgersOf(saga);
    assert.deepEqual(ledgers.authorizations, [
      { key: `${saga.id}:authorize`, status: 'voided', amount: 120.5, authorized: true, voided: true },
    ]);
    assert.deepEqual(ledgers.captures, []);
  }

  it('completes: the card is authorized, then the amount captured, each once', async () => {
    const input = payment();
    const saga = await kit.runToEnd(await kit.start('payment', input));
    assert.equal(saga.status, 'completed');
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.attempts]),
      [
        ['authorize', 'completed', 1],
        ['capture', 'completed', 1],
      ],
    );
    assert.deepEqual(saga.output, {
      authorize: { authorizationId: `${saga.id}:authorize`, amount: 120.5 },
      capture: { captureId: `${saga.id}:capture`, amount: 120.5 },
    });
    await assertCapturedOnce(saga);
    assert.deepEqual((await ledgersOf(saga)).calls, [1]);
  });

  it('a declined card fails authorize without a retry and is compensated: nothing is captured', async () => {
    const id = await kit.start('payment', payment(DECLINED_CARD));
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(saga.error, { name: 'NonRetryableError', message: 'card declined', retryable: false });
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.attempts, s.compensation?.status]),
      [
        // A finally failed authorization is voided too (compensateOnFailure): a declined one holds nothing.
        ['authorize', 'compensated', 1, 'completed'],
        ['capture', 'skipped', 0, undefined],
      ],
    );
    assert.deepEqual(
      (await kit.events(id)).map((e) => `${e.type}${e.step ? `:${e.step}:${e.attempt}` : ''}`),
      [
        'saga_started',
        'step_started:authorize:1',
        'step_failed:authorize:1',
        'saga_compensating',
        'compensation_started:authorize:1',
        'compensation_completed:authorize:1',
        'saga_compensated',
      ],
    );
    await assertDeclinedOnce(saga);
  });

  it('an unavailable acquirer (card …0119) is retried after short backoffs and authorizes on attempt 3, once', async () => {
    const id = await kit.start('payment', payment(FLAKY_CARD));
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'completed');
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.attempts]),
      [
        ['authorize', 3],
        ['capture', 1],
      ],
    );
    const failures = (await kit.events(id)).filter((e) => e.type === 'step_failed');
    assert.deepEqual(
      failures.map((e) => {
        const data = e.data as { error: { name: string; message: string }; retryInMs: number };
        return [e.step, e.attempt, data.error.name, data.error.message, data.retryInMs];
      }),
      [
        ['authorize', 1, 'AcquirerUnavailableError', 'card acquirer unavailable', 100],
        ['authorize', 2, 'AcquirerUnavailableError', 'card acquirer unavailable', 200],
      ],
    );
    await assertCapturedOnce(saga);
    assert.deepEqual((await ledgersOf(saga)).calls, [3]);
  });

  it('a capture that finally fails is compensated in reverse: refund (nothing captured), then the void', async () => {
    const id = await kit.start('payment', payment(CARD, 'refused'));
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.name, 'PostgresError');
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.attempts, s.compensation?.status]),
      [
        ['authorize', 'compensated', 1, 'completed'],
        ['capture', 'compensated', 3, 'completed'],
      ],
    );
    const compensations = (await kit.events(id)).filter((e) => e.type === 'compensation_completed');
    assert.deepEqual(
      compensations.map((e) => e.step),
      ['capture', 'authorize'],
    );
    await assertVoidedOnce(saga);
  });

  it('rejects input outside the contract: amount not above 0, card not 12 to 19 digits, no paymentId', async () => {
    for (const input of [
      { ...payment(), amount: 0 },
      { ...payment(), card: '42424242424' },
      { ...payment(), card: '4242x24242424242' },
      { amount: 10, card: CARD },
    ]) {
      await assert.rejects(kit.start('payment', input), { name: 'InvalidInputError' });
    }
  });

  it('survives a crash at every boundary of every unit of a successful payment, each side effect once', async () => {
    const report = await kit.exploreCrashes('payment', () => payment(), {
      status: 'completed',
      check: assertCapturedOnce,
    });
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}`),
      ['step:authorize', 'step:capture'],
    );
    assert.equal(report.runs.length, 1 + 2 * 3);
  });

  it('survives a crash at every boundary of every unit of a declined payment, nothing captured', async () => {
    const report = await kit.exploreCrashes('payment', () => payment(DECLINED_CARD), {
      status: 'compensated',
      check: assertDeclinedOnce,
    });
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}`),
      ['step:authorize', 'compensation:authorize'],
    );
  });

  it('survives a crash at every boundary of every unit of a payment voided after its capture failed', async () => {
    const report = await kit.exploreCrashes('payment', () => payment(CARD, 'refused'), {
      status: 'compensated',
      check: assertVoidedOnce,
    });
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}:${u.attempt}`),
      [
        'step:authorize:1',
        'step:capture:1',
        'step:capture:2',
        'step:capture:3',
        'compensation:capture:1',
        'compensation:authorize:1',
      ],
    );
    assert.equal(report.runs.length, 1 + 6 * 3);
  });
});
