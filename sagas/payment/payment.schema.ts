import { integer, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * The demo card acquirer's authorizations, keyed by the idempotency key of the `authorize` step:
 * calling it again under one key never authorizes twice, and a void happens once.
 */
export const cardAuthorizations = pgTable('card_authorizations', {
  key: text('key').primaryKey(),
  paymentId: text('payment_id').notNull(),
  /** The card's last four digits: the demo keeps no card numbers. */
  cardLast4: text('card_last4').notNull(),
  amount: numeric('amount', { precision: 12, scale: 2 }).notNull(),
  /** `pending` (the acquirer was unavailable so far), `authorized`, `declined` or `voided`. */
  status: text('status').notNull(),
  /** Calls the acquirer received for this key, retries included. */
  calls: integer('calls').notNull().default(0),
  authorizedAt: timestamptz('authorized_at'),
  voidedAt: timestamptz('voided_at'),
});

/** Captures of authorized amounts, keyed by the idempotency key of the `capture` step: one per payment. */
export const cardCaptures = pgTable('card_captures', {
  key: text('key').primaryKey(),
  paymentId: text('payment_id').notNull(),
  authorizationKey: text('authorization_key').notNull(),
  amount: numeric('amount', { precision: 12, scale: 2 }).notNull(),
  capturedAt: timestamptz('captured_at').notNull().defaultNow(),
  refundedAt: timestamptz('refunded_at'),
});
