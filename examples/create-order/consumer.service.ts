import { Injectable } from '@nestjs/common';
import { eq } from 'drizzle-orm';
import { NonRetryableError } from 'nest-saga';
import { consumers } from './create-order.schema.js';
import { FtgoDatabase } from './ftgo-database.js';

/** FTGO's Consumer Service: only a known consumer in good standing may order. */
@Injectable()
export class ConsumerService {
  constructor(private readonly database: FtgoDatabase) {}

  /** Reads only, so it needs no idempotency key; a refusal is final, so it is not retried. */
  async verify(consumerId: string): Promise<void> {
    const [consumer] = await this.database.db.select().from(consumers).where(eq(consumers.id, consumerId));
    if (!consumer) throw new NonRetryableError(`unknown consumer ${consumerId}`);
    if (consumer.suspended) throw new NonRetryableError(`consumer ${consumerId} is suspended`);
  }
}
