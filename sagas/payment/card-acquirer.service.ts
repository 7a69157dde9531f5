import { Injectable } from '@nestjs/common';
import type postgres from 'postgres';
import { AppDatabase } from '../../src/database/app-database.js';
import { NonRetryableError } from '../../src/saga/index.js';
import { AcquirerUnavailableError } from './acquirer-unavailable.error.js';

/** Always declined: a non-retryable failure. */
export const DECLINED_CARD = '4000000000000002';
/** The acquirer is "unavailable" for the first two calls of each authorization, then it answers. */
export const FLAKY_CARD = '4000000000000119';
const FLAKY_CALLS = 2;

export interface Authorization {
  authorizationId: string;
  amount: number;
}

export interface Capture {
  captureId: string;
  amount: number;
}

/**
 * A demo card acquirer with real ledgers in Postgres, keyed by the idempotency keys of the steps
 * that call it: an authorization, a capture, a void and a refund each happen once per payment,
 * however often they are called. One statement per call, so that concurrent calls (a redelivery
 * racing a retry) cannot interleave.
 */
@Injectable()
export class CardAcquirer {
  constructor(private readonly database: AppDatabase) {}

  /** Puts a hold of `amount` on the card; the call is counted and decided together. */
  async authorize(request: {
    key: string;
    paymentId: string;
    card: string;
    amount: number;
  }): Promise<Authorization> {
    const { sql } = this.database;
    const { key, paymentId, card, amount } = request;
    const unavailableCalls = card === FLAKY_CARD ? FLAKY_CALLS : 0;
    // What a call makes of a pending authorization; `calls` counts the key's calls, this one included.
    const outcome = (calls: postgres.Fragment) =>
      sql`CASE WHEN ${card === DECLINED_CARD} THEN 'declined' WHEN ${calls} > ${unavailableCalls} THEN 'authorized' ELSE 'pending' END`;
    const [{ status }] = await sql<{ status: string }[]>`
      INSERT INTO card_authorizations AS a (key, payment_id, card_last4, amount, status, calls, authorized_at)
      SELECT ${key}, ${paymentId}, ${card.slice(-4)}, ${amount}, first.status, 1,
        CASE WHEN first.status = 'authorized' THEN now() END
      FROM (SELECT ${outcome(sql`1`)} AS status) AS first
      ON CONFLICT (key) DO UPDATE SET
        calls = a.calls + 1,
        status = CASE WHEN a.status = 'pending' THEN ${outcome(sql`a.calls + 1`)} ELSE a.status END,
        authorized_at = CASE WHEN a.status = 'pending' AND ${outcome(sql`a.calls + 1`)} = 'authorized'
          THEN now() ELSE a.authorized_at END
      RETURNING status`;
    if (status === 'declined') throw new NonRetryableError('card declined');
    if (status === 'pending') throw new AcquirerUnavailableError();
    return { authorizationId: key, amount };
  }

  /** Releases the hold of an authorization once; one that was never authorized, or is voided already, stays as it is. */
  async void(authorizationKey: string): Promise<{ voided: boolean }> {
    const rows = await this.database.sql`
      UPDATE card_authorizations SET status = 'voided', voided_at = now()
      WHERE key = ${authorizationKey} AND status = 'authorized'
      RETURNING key`;
    return { voided: rows.length === 1 };
  }

  /** Takes an authorized amount, once per key; an authorization that is not held (voided, declined) cannot be captured. */
  async capture(request: {
    key: string;
    paymentId: string;
    authorizationKey: string;
    amount: number;
  }): Promise<Capture> {
    const { key, paymentId, authorizationKey, amount } = request;
    const [{ captured }] = await this.database.sql<{ captured: boolean }[]>`
      WITH held AS (
        SELECT key FROM card_authorizations WHERE key = ${authorizationKey} AND status = 'authorized'
      ), inserted AS (
        INSERT INTO card_captures (key, payment_id, authorization_key, amount)
        SELECT ${key}, ${paymentId}, key, ${amount} FROM held
        ON CONFLICT (key) DO NOTHING RETURNING key
      )
      -- Captured now, or under this key by an earlier call (the snapshot of this statement sees it).
      SELECT EXISTS (SELECT 1 FROM inserted) OR EXISTS (SELECT 1 FROM card_captures WHERE key = ${key}) AS captured`;
    if (!captured) throw new NonRetryableError(`authorization ${authorizationKey} is not held`);
    return { captureId: key, amount };
  }

  /** Refunds a capture once; a key that was never captured, or is refunded already, is left as it is. */
  async refund(captureKey: string): Promise<{ refunded: boolean }> {
    const rows = await this.database.sql`
      UPDATE card_captures SET refunded_at = now() WHERE key = ${captureKey} AND refunded_at IS NULL
      RETURNING key`;
    return { refunded: rows.length === 1 };
  }
}
