import { Injectable } from '@nestjs/common';
import { AppDatabase } from '../../src/database/app-database.js';

/** Records confirmation e-mails in `sent_emails`, at most one per order however often it is called. */
@Injectable()
export class EmailService {
  constructor(private readonly database: AppDatabase) {}

  async sendOrderConfirmation(
    orderId: string,
    customerId: string,
    sagaId: string,
  ): Promise<{ recipient: string }> {
    const recipient = `${customerId}@customers.example`;
    await this.database.sql`
      INSERT INTO sent_emails (order_id, saga_id, recipient, subject)
      VALUES (${orderId}, ${sagaId}, ${recipient}, ${`Your order ${orderId} is confirmed`})
      ON CONFLICT (order_id) DO NOTHING`;
    return { recipient };
  }
}
