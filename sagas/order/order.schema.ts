import { integer, jsonb, numeric, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const inventory = pgTable('inventory', {
  sku: text('sku').primaryKey(),
  available: integer('available').notNull(),
});

/** One row per reservation, keyed by the step's idempotency key, so reserving twice takes stock once. */
export const inventoryReservations = pgTable('inventory_reservations', {
  key: text('key').primaryKey(),
  orderId: text('order_id').notNull(),
  items: jsonb('items').notNull(),
  reservedAt: timestamptz('reserved_at').notNull().defaultNow(),
  releasedAt: timestamptz('released_at'),
});

/** The demo payment provider's ledger, keyed by the idempotency key of the charge. */
export const payments = pgTable('payments', {
  key: text('key').primaryKey(),
  orderId: text('order_id').notNull(),
  amount: numeric('amount', { precision: 12, scale: 2 }).notNull(),
  status: text('status').notNull(),
  /** Calls the provider received for this key, retries included. */
  calls: integer('calls').notNull().default(0),
  chargedAt: timestamptz('charged_at'),
  refundedAt: timestamptz('refunded_at'),
});

export const sentEmails = pgTable('sent_emails', {
  orderId: text('order_id').primaryKey(),
  sagaId: text('saga_id').notNull(),
  recipient: text('recipient').notNull(),
  subject: text('subject').notNull(),
  sentAt: timestamptz('sent_at').notNull().defaultNow(),
});
