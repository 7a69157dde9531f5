import { Module, type DynamicModule } from '@nestjs/common';
import { AccountingService } from './accounting.service.js';
import { ConsumerService } from './consumer.service.js';
import { CreateOrderSaga } from './create-order.saga.js';
import { FtgoDatabase } from './ftgo-database.js';
import { KitchenService } from './kitchen.service.js';
import { OrderService } from './order.service.js';

/** The saga and the services it calls, with the database they share. */
@Module({})
export class CreateOrderModule {
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: CreateOrderModule,
      providers: [
        { provide: FtgoDatabase, useFactory: () => new FtgoDatabase(databaseUrl) },
        CreateOrderSaga,
        OrderService,
        ConsumerService,
        KitchenService,
        AccountingService,
      ],
    };
  }
}
