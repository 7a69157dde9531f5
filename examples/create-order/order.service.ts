import { Injectable } from '@nestjs/common';
import { and, eq } from 'drizzle-orm';
import { NonRetryableError } from 'nest-saga';
import type { CreateOrderInput } from './create-order.input.js';
import { orders } from './create-order.schema.js';
import { FtgoDatabase } from './ftgo-database.js';

/** FTGO's Order Service: an order waits APPROVAL_PENDING until its saga approves or rejects it. */
@Injectable()
export class OrderService {
  constructor(private readonly database: FtgoDatabase) {}

  /** Creates the order once: a retry finds it created. An order of that id created by another saga is refused. */
  async create(sagaId: string, order: CreateOrderInput): Promise<{ orderId: string }> {
    const { db } = this.database;
    const { orderId: id, consumerId, restaurantId, lineItems, totalCents } = order;
    await db
      .insert(orders)
      .values({ id, sagaId, consumerId, restaurantId, lineItems, totalCents, state: 'APPROVAL_PENDING' })
      .onConflictDoNothing();
    const [{ owner }] = await db.select({ owner: orders.sagaId }).from(orders).where(eq(orders.id, id));
    if (owner !== sagaId) throw new NonRetryableError(`order ${id} belongs to saga ${owner}`);
    return { orderId: id };
  }

  /** Approving again changes nothing. */
  async approve(orderId: string): Promise<void> {
    await this.database.db
      .update(orders)
      .set({ state: 'APPROVED' })
      .where(and(eq(orders.id, orderId), eq(orders.state, 'APPROVAL_PENDING')));
  }

  /** Rejects the order this saga created, if it did; rejecting again changes nothing. */
  async reject(orderId: string, sagaId: string): Promise<void> {
    await this.database.db
      .update(orders)
      .set({ state: 'REJECTED' })
      .where(and(eq(orders.id, orderId), eq(orders.sagaId, sagaId), eq(orders.state, 'APPROVAL_PENDING')));
  }
}
