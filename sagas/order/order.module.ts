import { Module } from '@nestjs/common';
import { EmailService } from './email.service.js';
import { InventoryService } from './inventory.service.js';
import { OrderSaga } from './order.saga.js';
import { PaymentProvider } from './payment-provider.service.js';

@Module({ providers: [OrderSaga, InventoryService, PaymentProvider, EmailService] })
export class OrderModule {}
