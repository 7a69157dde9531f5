import { boolean, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { LineItem } from './create-order.input.js';

/** Order Service. An order waits in APPROVAL_PENDING until the saga approves or rejects it. */
export const orders = pgTable('orders', {
  id: text('id').primaryKey(),
  /** The saga that created it: a second saga for the same order id must not take it over. */
  sagaId: text('saga_id').notNull(),
  consumerId: text('consumer_id').notNull(),
  restaurantId: text('restaurant_id').notNull(),
  lineItems: jsonb('line_items').$type<LineItem[]>().notNull(),
  totalCents: integer('total_cents').notNull(),
  state: text('state').$type<'APPROVAL_PENDING' | 'APPROVED' | 'REJECTED'>().notNull(),
});

/** Consumer Service. */
export const consumers = pgTable('consumers', {
  id: text('id').primaryKey(),
  suspended: boolean('suspended').notNull().default(false),
});

/** Kitchen Service. `idempotency_key` is unique: creating a ticket again under one key creates none. */
export const tickets = pgTable('tickets', {
  id: uuid('id').primaryKey().defaultRandom(),
  idempotencyKey: text('idempotency_key').notNull().unique(),
  orderId: text('order_id').notNull(),
  restaurantId: text('restaurant_id').notNull(),
  lineItems: jsonb('line_items').$type<LineItem[]>().notNull(),
  state: text('state').$type<'CREATE_PENDING' | 'AWAITING_ACCEPTANCE' | 'REJECTED'>().notNull(),
});

/** Accounting Service: the credit left on each consumer's card. */
export const accounts = pgTable('accounts', {
  consumerId: text('consumer_id').primaryKey(),
  availableCents: integer('available_cents').notNull(),
});

/** Accounting Service: one hold on a card per idempotency key, released once by its reversal. */
export const cardAuthorizations = pgTable('card_authorizations', {
  id: uuid('id').primaryKey().defaultRandom(),
  idempotencyKey: text('idempotency_key').notNull().unique(),
  consumerId: text('consumer_id').notNull(),
  orderId: text('order_id').notNull(),
  amountCents: integer('amount_cents').notNull(),
  authorizedAt: timestamp('authorized_at', { withTimezone: true }).notNull().defaultNow(),
  reversedAt: timestamp('reversed_at', { withTimezone: true }),
});
