import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DECLINED_CARD, FLAKY_CARD } from '../../sagas/order/payment-provider.service.js';
import { OrderModule } from '../../sagas/order/order.module.js';
import type { OrderInput } from '../../sagas/order/order.input.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { SagaTestKit, type SagaView } from '../../src/saga/testing/index.js';

const SEED_UNITS = 1_000_000;

/** An order of 2 units of one SKU of its own, so that each order's stock can be checked exactly. */
const order = (sku: string, card = '4242424242424242', customerId = 'customer-1'): OrderInput => ({
  orderId: `order-${Math.random().toString(36).slice(2)}`,
  customerId,
  items: [{ sku, quantity: 2 }],
  amount: 42.5,
  card,
});

/** The order saga, tested the way its author would: with the test kit, against its real services. */
describe('order saga', () => {
  let kit: SagaTestKit;

  before(async () => {
    kit = await SagaTestKit.create({
      imports: ({ databaseUrl }) => [DatabaseModule.forRoot(databaseUrl), OrderModule],
      // The order saga's own tables, from the application's migrations.
      migrationsFolder: fileURLToPath(new URL('../../../drizzle', import.meta.url)),
      // A mail server that refuses the mailboxes of 'unreachable…' customers: the one way an order
      // fails after its charge, so the one that refunds it.
      prepare: ({ sql }) =>
        sql.unsafe(`
          CREATE FUNCTION refuse_unreachable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF NEW.recipient LIKE 'unreachable%' THEN RAISE EXCEPTION 'mailbox % unavailable', NEW.recipient; END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER refuse_unreachable BEFORE INSERT ON sent_emails
            FOR EACH ROW EXECUTE FUNCTION refuse_unreachable();`),
    });
  });
  after(() => kit?.close());

  /** The order's side effects, as its services recorded them. */
  async function effectsOf(saga: SagaView) {
    const { orderId, items } = saga.input as OrderInput;
    const [stock] = await kit.sql`SELECT available FROM inventory WHERE sku = ${items[0].sku}`;
    const reservations = await kit.sql`
      SELECT key, released_at IS NOT NULL AS released FROM inventory_reservations WHERE order_id = ${orderId}`;
    const payments = await kit.sql`
      SELECT key, status, calls, charged_at IS NOT NULL AS charged, refunded_at IS NOT NULL AS refunded
      FROM payments WHERE order_id = ${orderId}`;
    const emails = await kit.sql`SELECT saga_id FROM sent_emails WHERE order_id = ${orderId}`;
    return {
      taken: SEED_UNITS - stock.available,
      reservations: reservations.map((r) => ({ ...r })),
      payments: payments.map((p) => ({ ...p })),
      emails: emails.map((e) => e.saga_id as string),
    };
  }

  /** Exactly what a completed order leaves: its stock taken, one charge, one e-mail. */
  async function assertCompletedOnce(saga: SagaView) {
    const effects = await effectsOf(saga);
    assert.equal(effects.taken, 2, `${effects.taken} units of stock taken, expected 2 (taken once)`);
    assert.deepEqual(effects.reservations, [{ key: `${saga.id}:reserveInventory`, released: false }]);
    assert.equal(effects.payments.length, 1, 'one ledger entry: one idempotency key');
    assert.deepEqual(
      { ...effects.payments[0], calls: undefined },
      {
        key: `${saga.id}:chargePayment`,
        status: 'charged',
        charged: true,
        refunded: false,
        calls: undefined,
      },
    );
    assert.deepEqual(effects.emails, [saga.id], 'one confirmation e-mail');
  }

  /** Exactly what a declined order leaves: its stock given back once, no charge, no e-mail. */
  async function assertDeclinedOnce(saga: SagaView) {
    const effects = await effectsOf(saga);
    assert.equal(effects.taken, 0, `${effects.taken} units of stock taken, expected 0 (given back once)`);
    assert.deepEqual(effects.reservations, [{ key: `${saga.id}:reserveInventory`, released: true }]);
    assert.equal(effects.payments.length, 1);
    assert.deepEqual(
      { ...effects.payments[0], calls: undefined },
      {
        key: `${saga.id}:chargePayment`,
        status: 'declined',
        charged: false,
        refunded: false,
        calls: undefined,
      },
    );
    assert.deepEqual(effects.emails, []);
  }

  /** Exactly what an order refunded after its charge leaves: its stock given back once, its charge refunded once. */
  async function assertRefundedOnce(saga: SagaView) {
    const effects = await effectsOf(saga);
    assert.equal(effects.taken, 0, `${effects.taken} units of stock taken, expected 0 (given back once)`);
    assert.deepEqual(effects.reservations, [{ key: `${saga.id}:reserveInventory`, released: true }]);
    assert.equal(effects.payments.length, 1);
    assert.deepEqual(
      { ...effects.payments[0], calls: undefined },
      {
        key: `${saga.id}:chargePayment`,
        status: 'refunded',
        charged: true,
        refunded: true,
        calls: undefined,
      },
    );
    assert.deepEqual(effects.emails, []);
  }

  it('completes: stock reserved, card charged, confirmation sent', async () => {
    const saga = await kit.runToEnd(await kit.start('order', order('sku-1')));
    assert.equal(saga.status, 'completed');
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.attempts]),
      [
        ['reserveInventory', 'completed', 1],
        ['chargePayment', 'completed', 1],
        ['sendConfirmation', 'completed', 1],
      ],
    );
    await assertCompletedOnce(saga);
  });

  it('a declined card is compensated: the stock is released and nothing is charged', async () => {
    const saga = await kit.runToEnd(await kit.start('order', order('sku-2', DECLINED_CARD)));
    assert.equal(saga.status, 'compensated');
    assert.deepEqual(saga.error, { name: 'NonRetryableError', message: 'card declined', retryable: false });
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status, s.compensation?.status]),
      [
        ['reserveInventory', 'compensated', 'completed'],
        // A finally failed charge is refunded too (compensateOnFailure): a declined one has nothing to refund.
        ['chargePayment', 'compensated', 'completed'],
        ['sendConfirmation', 'skipped', undefined],
      ],
    );
    await assertDeclinedOnce(saga);
  });

  it('a flaky provider is retried after its backoffs, which the kit skips, and charges once', async () => {
    const id = await kit.start('order', order('sku-3', FLAKY_CARD));
    const saga = await kit.runToEnd(id);
    assert.equal(saga.status, 'completed');
    assert.equal(saga.steps!.find((s) => s.name === 'chargePayment')!.attempts, 3);
    const failures = (await kit.events(id)).filter((e) => e.type === 'step_failed');
    assert.deepEqual(
      failures.map((e) => [e.step, e.attempt, (e.data as { retryInMs: number }).retryInMs]),
      [
        ['chargePayment', 1, 100],
        ['chargePayment', 2, 200],
      ],
    );
    await assertCompletedOnce(saga);
    assert.equal((await effectsOf(saga)).payments[0].calls, 3);
  });

  it('survives a crash at every boundary of every unit of a successful order, each side effect once', async () => {
    const report = await kit.exploreCrashes('order', (run: number) => order(`sku-${10 + run}`), {
      status: 'completed',
      check: assertCompletedOnce,
    });
    assert.equal(report.units.length, 3);
    assert.equal(report.runs.length, 1 + 3 * 3);
  });

  it('survives a crash at every boundary of every unit of a declined order, each side effect once', async () => {
    const report = await kit.exploreCrashes(
      'order',
      (run: number) => order(`sku-${30 + run}`, DECLINED_CARD),
      {
        status: 'compensated',
        check: assertDeclinedOnce,
      },
    );
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}`),
      [
        'step:reserveInventory',
        'step:chargePayment',
        'compensation:chargePayment',
        'compensation:reserveInventory',
      ],
    );
    assert.equal(report.runs.length, 1 + 4 * 3);
  });

  it('survives a crash at every boundary of every unit of an order refunded after its charge, each side effect once', async () => {
    const report = await kit.exploreCrashes(
      'order',
      (run: number) => order(`sku-${50 + run}`, undefined, 'unreachable-1'),
      { status: 'compensated', check: assertRefundedOnce },
    );
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}:${u.attempt}`),
      [
        'step:reserveInventory:1',
        'step:chargePayment:1',
        'step:sendConfirmation:1',
        'step:sendConfirmation:2',
        'step:sendConfirmation:3',
        'compensation:chargePayment:1',
        'compensation:reserveInventory:1',
      ],
    );
  });
});
