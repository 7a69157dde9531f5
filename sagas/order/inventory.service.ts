import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
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

  /**
   * Reserving twice under one key takes the stock once. Unknown SKUs and short stock are not
   * retryable. One statement: popular SKUs are hot rows, and a row lock held across client round
   * trips would make every order of that SKU wait for the one before it.
   */
  async reserve(key: string, orderId: string, items: OrderItem[]): Promise<Reservation> {
    const wanted = totalBySku(items);
    const [outcome] = await this.database.sql<ReserveOutcome[]>`
      WITH wanted AS (
        -- Under a key reserved before, nothing more is wanted.
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(wanted)}::text::jsonb) AS w(sku text, quantity int)
        WHERE NOT EXISTS (SELECT 1 FROM inventory_reservations WHERE key = ${key})
      ), stock AS (
        -- Locked in one order, so that concurrent reservations cannot deadlock; a locked row reads as last committed.
        SELECT i.sku, i.available FROM inventory i WHERE i.sku IN (SELECT sku FROM wanted) ORDER BY i.sku FOR UPDATE
      ), problem AS (
        SELECT w.sku, w.quantity, s.available FROM wanted w LEFT JOIN stock s ON s.sku = w.sku
        WHERE s.sku IS NULL OR s.available < w.quantity
        ORDER BY w.sku LIMIT 1
      ), reservation AS (
        INSERT INTO inventory_reservations (key, order_id, items)
        SELECT ${key}, ${orderId}, ${JSON.stringify(wanted)}::text::jsonb
        WHERE EXISTS (SELECT 1 FROM wanted) AND NOT EXISTS (SELECT 1 FROM problem)
        ON CONFLICT (key) DO NOTHING RETURNING key
      ), taken AS (
        UPDATE inventory i SET available = i.available - w.quantity
        FROM stock s JOIN wanted w ON w.sku = s.sku
        WHERE i.sku = s.sku AND EXISTS (SELECT 1 FROM reservation)
      )
      SELECT p.sku, p.quantity, p.available FROM (SELECT 1) AS one LEFT JOIN problem p ON true`;
    // Without a problem the stock was taken, now or under this key before (by a concurrent call, if
    // its reservation committed while this one waited for the rows).
    if (outcome.sku === null || (await this.reserved(key))) return { reservationId: key, items: wanted };
    if (outcome.available === null) throw new NonRetryableError(`unknown SKU ${outcome.sku}`);
    throw new NonRetryableError(
      `not enough stock for ${outcome.sku}: ${outcome.quantity} wanted, ${outcome.available} left`,
    );
  }

  /** Puts a reservation's stock back, once; releasing again (or releasing nothing) changes nothing. */
  async release(reservationId: string): Promise<{ released: boolean }> {
    const [{ released }] = await this.database.sql<{ released: boolean }[]>`
      WITH reservation AS (
        UPDATE inventory_reservations SET released_at = now()
        WHERE key = ${reservationId} AND released_at IS NULL RETURNING items
      ), given AS (
        SELECT w.sku, w.quantity FROM reservation, jsonb_to_recordset(reservation.items) AS w(sku text, quantity int)
      ), stock AS (
        SELECT i.sku FROM inventory i WHERE i.sku IN (SELECT sku FROM given) ORDER BY i.sku FOR UPDATE
      ), returned AS (
        UPDATE inventory i SET available = i.available + g.quantity
        FROM given g JOIN stock s ON s.sku = g.sku WHERE i.sku = g.sku
      )
      SELECT EXISTS (SELECT 1 FROM reservation) AS released`;
    return { released };
  }

  private async reserved(key: string): Promise<boolean> {
    const rows = await this.database.sql`SELECT 1 FROM inventory_reservations WHERE key = ${key}`;
    return rows.length > 0;
  }
}

/** The first item, by SKU, that the stock cannot cover, if any; an unknown SKU has no `available`. */
interface ReserveOutcome {
  sku: string | null;
  quantity: number | null;
  available: number | null;
}

function totalBySku(items: OrderItem[]): OrderItem[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of items) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([sku, quantity]) => ({ sku, quantity }));
}
