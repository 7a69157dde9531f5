import { Injectable } from '@nestjs/common';
import type postgres from 'postgres';
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

  /** One statement: the call is counted and decided together, whatever calls run at the same time. */
  async charge(request: { key: string; orderId: string; card: string; amount: number }): Promise<Charge> {
    const { sql } = this.database;
    const { key, orderId, card, amount } = request;
    const unavailableCalls = card === FLAKY_CARD ? FLAKY_CALLS : 0;
    // What a call makes of a pending charge; `calls` counts the key's calls, this one included.
    const outcome = (calls: postgres.Fragment) =>
      sql`CASE WHEN ${card === DECLINED_CARD} THEN 'declined' WHEN ${calls} > ${unavailableCalls} THEN 'charged' ELSE 'pending' END`;
    const [{ status }] = await sql<{ status: string }[]>`
      INSERT INTO payments AS p (key, order_id, amount, status, calls, charged_at)
      SELECT ${key}, ${orderId}, ${amount}, first.status, 1, CASE WHEN first.status = 'charged' THEN now() END
      FROM (SELECT ${outcome(sql`1`)} AS status) AS first
      ON CONFLICT (key) DO UPDATE SET
        calls = p.calls + 1,
        status = CASE WHEN p.status = 'pending' THEN ${outcome(sql`p.calls + 1`)} ELSE p.status END,
        charged_at = CASE WHEN p.status = 'pending' AND ${outcome(sql`p.calls + 1`)} = 'charged'
          THEN now() ELSE p.charged_at END
      RETURNING status`;
    if (status === 'declined') throw new NonRetryableError('card declined');
    if (status === 'pending') throw new ProviderUnavailableError();
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
