import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SagaTestKit, type SagaView } from 'nest-saga/testing';
import type { CreateOrderInput } from './create-order.input.js';
import { CreateOrderModule } from './create-order.module.js';

/** Credit on each consumer's card, in cents. Bob's does not cover an order; Sam is suspended. */
const CREDIT: Record<string, number> = { mary: 1_000_000, bob: 1_000, sam: 1_000_000, una: 1_000_000 };

const order = (consumerId: string, orderId = `order-${randomUUID()}`): CreateOrderInput => ({
  orderId,
  consumerId,
  restaurantId: 'ajanta',
  lineItems: [{ menuItemId: 'chicken-vindaloo', quantity: 2 }],
  totalCents: 2_500,
});

let kit: SagaTestKit;

before(async () => {
  kit = await SagaTestKit.create({
    imports: ({ databaseUrl }) => [CreateOrderModule.forRoot(databaseUrl)],
    // The example's tables, from its own migrations (this file runs from dist/examples/create-order).
    migrationsFolder: fileURLToPath(new URL('../../../examples/create-order/drizzle', import.meta.url)),
    prepare: async ({ sql }) => {
      const consumers = Object.keys(CREDIT).map((id) => ({ id, suspended: id === 'sam' }));
      const accounts = Object.entries(CREDIT).map(([id, cents]) => ({
        consumer_id: id,
        available_cents: cents,
      }));
      await sql`INSERT INTO consumers ${sql(consumers)}`;
      await sql`INSERT INTO accounts ${sql(accounts)}`;
      // The Order Service cannot approve Una's orders: the one way to fail after the card is authorized.
      await sql.unsafe(`
        CREATE FUNCTION refuse_una() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          IF NEW.consumer_id = 'una' AND NEW.state = 'APPROVED' THEN RAISE EXCEPTION 'order service unavailable'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_una BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION refuse_una();`);
    },
  });
});
after(() => kit?.close());

/** What the saga left in the services' tables; the consumer's credit must balance whatever happened. */
async function effectsOf(saga: SagaView) {
  const { orderId, consumerId } = saga.input as CreateOrderInput;
  const [order] = await kit.sql`SELECT state FROM orders WHERE id = ${orderId}`;
  const tickets = await kit.sql`SELECT state FROM tickets WHERE order_id = ${orderId}`;
  const holds = await kit.sql`
    SELECT reversed_at IS NOT NULL AS reversed FROM card_authorizations WHERE order_id = ${orderId}`;
  const [{ available, held }] = await kit.sql`
    SELECT available_cents AS available,
      (SELECT coalesce(sum(amount_cents), 0)::int FROM card_authorizations
       WHERE consumer_id = ${consumerId} AND reversed_at IS NULL) AS held
    FROM accounts WHERE consumer_id = ${consumerId}`;
  assert.equal(available + held, CREDIT[consumerId], 'each cent off the card is held, once');
  return {
    order: order?.state,
    tickets: tickets.map((t) => t.state),
    holds: holds.map((h) => (h.reversed ? 'reversed' : 'held')),
  };
}

const approved = { order: 'APPROVED', tickets: ['AWAITING_ACCEPTANCE'], holds: ['held'] };
const declined = { order: 'REJECTED', tickets: ['REJECTED'], holds: [] };

describe('create-order saga', () => {
  it('approves the order: a ticket for the kitchen, the total held on the card', async () => {
    const saga = await kit.runToEnd(await kit.start('create-order', order('mary')));
    assert.equal(saga.status, 'completed');
    assert.deepEqual(await effectsOf(saga), approved);
  });

  it('rejects the order of a suspended consumer before anything else happens', async () => {
    const saga = await kit.runToEnd(await kit.start('create-order', order('sam')));
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.message, 'consumer sam is suspended');
    assert.deepEqual(await effectsOf(saga), { order: 'REJECTED', tickets: [], holds: [] });
  });

  it('rejects the ticket and the order when the card is declined', async () => {
    const saga = await kit.runToEnd(await kit.start('create-order', order('bob')));
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.message, 'card of consumer bob declined');
    assert.deepEqual(
      saga.steps!.map((s) => [s.name, s.status]),
      [
        ['createOrder', 'compensated'],
        ['verifyConsumer', 'completed'],
        ['createTicket', 'compensated'],
        ['authorizeCard', 'compensated'],
        ['approveTicket', 'skipped'],
        ['approveOrder', 'skipped'],
      ],
    );
    assert.deepEqual(await effectsOf(saga), declined);
  });

  it('gives the hold back once when the order cannot be approved, even if the reversal runs twice', async () => {
    const crash = kit.crashAt({ step: 'authorizeCard', phase: 'compensation', boundary: 'afterHandler' });
    const saga = await kit.runToEnd(await kit.start('create-order', order('una')));
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.steps!.find((s) => s.name === 'approveOrder')!.attempts, 20);
    assert.equal(crash.firedIn, saga.id);
    assert.deepEqual(await effectsOf(saga), {
      order: 'REJECTED',
      tickets: ['REJECTED'],
      holds: ['reversed'],
    });
  });

  it('refuses an order that another saga created, and leaves that order alone', async () => {
    // As a second saga for the same order would find it while the first one runs.
    const input = order('mary');
    const { orderId, consumerId, restaurantId, totalCents } = input;
    await kit.sql`
      INSERT INTO orders (id, saga_id, consumer_id, restaurant_id, line_items, total_cents, state)
      VALUES (${orderId}, 'another-saga', ${consumerId}, ${restaurantId}, '[]', ${totalCents}, 'APPROVAL_PENDING')`;
    const saga = await kit.runToEnd(await kit.start('create-order', input));
    assert.equal(saga.status, 'compensated');
    assert.equal(saga.error?.message, `order ${orderId} belongs to saga another-saga`);
    assert.deepEqual(await effectsOf(saga), { order: 'APPROVAL_PENDING', tickets: [], holds: [] });
  });

  it('survives a crash at every boundary of every unit of an approved order, each effect once', async () => {
    const report = await kit.exploreCrashes('create-order', () => order('mary'), {
      status: 'completed',
      check: async (saga) => assert.deepEqual(await effectsOf(saga), approved),
    });
    assert.equal(report.runs.length, 1 + 6 * 3);
  });

  it('survives a crash at every boundary of every unit of a declined order, each effect once', async () => {
    const report = await kit.exploreCrashes('create-order', () => order('bob'), {
      status: 'compensated',
      check: async (saga) => assert.deepEqual(await effectsOf(saga), declined),
    });
    assert.deepEqual(
      report.units.map((u) => `${u.phase}:${u.step}`),
      [
        'step:createOrder',
        'step:verifyConsumer',
        'step:createTicket',
        'step:authorizeCard',
        'compensation:authorizeCard',
        'compensation:createTicket',
        'compensation:createOrder',
      ],
    );
  });
});
