import { Injectable } from '@nestjs/common';
import { and, eq, gte, isNull, sql } from 'drizzle-orm';
import { NonRetryableError } from 'nest-saga';
import type { CreateOrderInput } from './create-order.input.js';
import { accounts, cardAuthorizations } from './create-order.schema.js';
import { FtgoDatabase } from './ftgo-database.js';

/** FTGO's Accounting Service: holds an order's total on the consumer's card, and gives it back. */
@Injectable()
export class AccountingService {
  constructor(private readonly database: FtgoDatabase) {}

  /**
   * Holds the total once per key. The authorization row goes in first, in the hold's transaction:
   * a concurrent call under the same key waits on the unique key, then finds the row instead of
   * holding the total a second time. A decline rolls the row back with the rest.
   */
  async authorize(key: string, order: CreateOrderInput): Promise<{ authorizationId: string }> {
    const { consumerId, orderId, totalCents } = order;
    return this.database.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(cardAuthorizations)
        .values({ idempotencyKey: key, consumerId, orderId, amountCents: totalCents })
        .onConflictDoNothing({ target: cardAuthorizations.idempotencyKey })
        .returning({ id: cardAuthorizations.id });
      if (!created) {
        const [authorized] = await tx
          .select({ id: cardAuthorizations.id })
          .from(cardAuthorizations)
          .where(eq(cardAuthorizations.idempotencyKey, key));
        return { authorizationId: authorized.id };
      }
      const held = await tx
        .update(accounts)
        .set({ availableCents: sql`${accounts.availableCents} - ${totalCents}` })
        .where(and(eq(accounts.consumerId, consumerId), gte(accounts.availableCents, totalCents)))
        .returning({ consumerId: accounts.consumerId });
      if (held.length === 0) throw new NonRetryableError(`card of consumer ${consumerId} declined`);
      return { authorizationId: created.id };
    });
  }

  /**
   * Gives back the hold taken under `key`, once: a concurrent call waits for the row and then finds
   * it reversed. Without a hold (declined, or never reached) it does nothing.
   */
  async reverse(key: string): Promise<void> {
    await this.database.db.transaction(async (tx) => {
      const [reversed] = await tx
        .update(cardAuthorizations)
        .set({ reversedAt: sql`now()` })
        .where(and(eq(cardAuthorizations.idempotencyKey, key), isNull(cardAuthorizations.reversedAt)))
        .returning({
          consumerId: cardAuthorizations.consumerId,
          amountCents: cardAuthorizations.amountCents,
        });
      if (!reversed) return;
      await tx
        .update(accounts)
        .set({ availableCents: sql`${accounts.availableCents} + ${reversed.amountCents}` })
        .where(eq(accounts.consumerId, reversed.consumerId));
    });
  }
}
