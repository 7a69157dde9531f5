import { Injectable } from '@nestjs/common';
import { and, eq, inArray } from 'drizzle-orm';
import type { CreateOrderInput } from './create-order.input.js';
import { tickets } from './create-order.schema.js';
import { FtgoDatabase } from './ftgo-database.js';

/** FTGO's Kitchen Service: a ticket for the restaurant, CREATE_PENDING until the order is approved. */
@Injectable()
export class KitchenService {
  constructor(private readonly database: FtgoDatabase) {}

  /** Creates one ticket per key: a retry under the same key finds the ticket it created. */
  async createTicket(key: string, order: CreateOrderInput): Promise<{ ticketId: string }> {
    const { db } = this.database;
    const { orderId, restaurantId, lineItems } = order;
    await db
      .insert(tickets)
      .values({ idempotencyKey: key, orderId, restaurantId, lineItems, state: 'CREATE_PENDING' })
      .onConflictDoNothing({ target: tickets.idempotencyKey });
    const [ticket] = await db.select({ id: tickets.id }).from(tickets).where(eq(tickets.idempotencyKey, key));
    return { ticketId: ticket.id };
  }

  /** Approving again changes nothing. */
  async approveTicket(ticketId: string): Promise<void> {
    await this.database.db
      .update(tickets)
      .set({ state: 'AWAITING_ACCEPTANCE' })
      .where(and(eq(tickets.id, ticketId), eq(tickets.state, 'CREATE_PENDING')));
  }

  /** Rejects the ticket created under `key`, approved or not, if there is one; rejecting again changes nothing. */
  async rejectTicket(key: string): Promise<void> {
    await this.database.db
      .update(tickets)
      .set({ state: 'REJECTED' })
      .where(
        and(
          eq(tickets.idempotencyKey, key),
          inArray(tickets.state, ['CREATE_PENDING', 'AWAITING_ACCEPTANCE']),
        ),
      );
  }
}
