import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type postgres from 'postgres';
import { AppDatabase } from '../../src/database/app-database.js';
import { NonRetryableError } from '../../src/saga/index.js';
import type { OrderItem } from './order.input.js';

export interface Reservation {
  reservationId: string;
  items: OrderItem[];
}

const SEED_SKUS = 100;
const SEED_UNITS = 1_000_000;

/** Stock kept in Postgres. A reservation takes stock for every item or for none. */
@Injectable()
export class InventoryService implements OnApplicationBootstrap {
  constructor(private readonly database: AppDatabase) {}

  /** Seeds sku-1 … sku-100 with 1,000,000 units each; SKUs that exist keep their stock. */
  async onApplicationBootstrap(): Promise<void> {
    await this.database.sql`
      INSERT INTO inventory (sku, available)
      SELECT 'sku-' || g, ${SEED_UNITS} FROM generate_series(1, ${SEED_SKUS}) g
      ON CONFLICT (sku) DO NOTHING`;
  }

  /** Reserving twice under one key takes the stock once. Unknown SKUs and short stock are not retryable. */
  async reserve(key: string, orderId: string, items: OrderItem[]): Promise<Reservation> {
    const wanted = totalBySku(items);
    return this.database.sql.begin(async (tx) => {
      const [inserted] = await tx`
        INSERT INTO inventory_reservations (key, order_id, items) VALUES (${key}, ${orderId}, ${JSON.stringify(wanted)}::text::jsonb)
        ON CONFLICT (key) DO NOTHING RETURNING key`;
      if (!inserted) return { reservationId: key, items: wanted };
      // Lock the rows in one order so that concurrent reservations of the same SKUs cannot deadlock.
      const stock = await tx<{ sku: string; available: number }[]>`
        SELECT sku, available FROM inventory WHERE sku = ANY(${wanted.map((i) => i.sku)}::text[]) ORDER BY sku FOR UPDATE`;
      const available = new Map(stock.map((row) => [row.sku, row.available]));
      for (const item of wanted) {
        if (!available.has(item.sku)) throw new NonRetryableError(`unknown SKU ${item.sku}`);
        if (available.get(item.sku)! < item.quantity) {
          throw new NonRetryableError(
            `not enough stock for ${item.sku}: ${item.quantity} wanted, ${available.get(item.sku)} left`,
          );
        }
      }
      await this.adjust(tx, wanted, -1);
      return { reservationId: key, items: wanted };
    }) as Promise<Reservation>;
  }

  /** Puts a reservation's stock back, once; releasing again (or releasing nothing) changes nothing. */
  async release(reservationId: string): Promise<{ released: boolean }> {
    return this.database.sql.begin(async (tx) => {
      const [reservation] = await tx<{ items: OrderItem[] }[]>`
        UPDATE inventory_reservations SET released_at = now()
        WHERE key = ${reservationId} AND released_at IS NULL RETURNING items`;
      if (!reservation) return { released: false };
      await this.adjust(tx, reservation.items, 1);
      return { released: true };
    }) as Promise<{ released: boolean }>;
  }

  private async adjust(tx: postgres.TransactionSql, items: OrderItem[], sign: 1 | -1): Promise<void> {
    await tx`
      UPDATE inventory i SET available = i.available + ${sign} * w.quantity
      FROM jsonb_to_recordset(${JSON.stringify(items)}::text::jsonb) AS w(sku text, quantity int)
      WHERE i.sku = w.sku`;
  }
}

function totalBySku(items: OrderItem[]): OrderItem[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of items) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([sku, quantity]) => ({ sku, quantity }));
}
