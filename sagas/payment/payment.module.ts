import { Module } from '@nestjs/common';
import { CardAcquirer } from './card-acquirer.service.js';
import { PaymentSaga } from './payment.saga.js';

@Module({ providers: [PaymentSaga, CardAcquirer] })
export class PaymentModule {}
