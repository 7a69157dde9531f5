import { Injectable } from '@nestjs/common';
import { AppDatabase } from '../../src/database/app-database.js';
import { NonRetryableError } from '../../src/saga/index.js';

/** Always declined: a non-retryable failure. */
export const DECLINED_CARD = '4000000000000002';
/** The provider is "unavailable" for the first two calls of each charge, then it succeeds. */
export const FLAKY_CARD = '4000000000000119';
const FLAKY_CALLS = 2;

export interface Charge {
  paymentId: string;
  amount: number;
}

export class ProviderUnavailableError extends Error {
  constructor() {
    super('payment provider unavailable');
    this.name = 'ProviderUnavailableError';
  }
}

/**
 * A demo payment provider with a real ledger in Postgres, keyed by the idempotency key of each
 * charge: calling it again with the same key never charges twice, and a refund happens once.
 */
@Injectable()
export class PaymentProvider {
  constructor(private readonly database: AppDatabase) {}

  async charge(request: { key: string; orderId: string; card: string; amount: number }): Promise<Charge> {
    const { sql } = this.database;
    const { key, orderId, card, amount } = request;
    const [entry] = await sql<{ status: string; calls: number }[]>`
      INSERT INTO payments (key, order_id, amount, status, calls) VALUES (${key}, ${orderId}, ${amount}, 'pending', 1)
      ON CONFLICT (key) DO UPDATE SET calls = payments.calls + 1
      RETURNING status, calls`;
    if (entry.status === 'charged') return { paymentId: key, amount };
    if (card === DECLINED_CARD) {
      await sql`UPDATE payments SET status = 'declined' WHERE key = ${key}`;
      throw new NonRetryableError('card declined');
    }
    if (card === FLAKY_CARD && entry.calls <= FLAKY_CALLS) throw new ProviderUnavailableError();
    await sql`UPDATE payments SET status = 'charged', charged_at = now() WHERE key = ${key} AND status = 'pending'`;
    return { paymentId: key, amount };
  }

  /** Refunds a charge once; a key that was never charged, or is already refunded, is left as it is. */
  async refund(paymentId: string): Promise<{ refunded: boolean }> {
    const rows = await this.database.sql`
      UPDATE payments SET status = 'refunded', refunded_at = now() WHERE key = ${paymentId} AND status = 'charged'
      RETURNING key`;
    return { refunded: rows.length === 1 };
  }
}
