import { Module } from '@nestjs/common';
import { SagaModule } from 'nest-saga';
import { CreateOrderModule } from './create-order.module.js';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ftgo';

/** An application that serves the saga: `NestFactory.create(AppModule)`, then `listen()`. */
@Module({
  imports: [
    SagaModule.forRoot({
      databaseUrl,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      // The engine's own tables, in schema `saga`, migrated at start. Or leave this off and run
      // `migrateSagaSchema({ databaseUrl })` in a deployment step.
      migrate: true,
    }),
    CreateOrderModule.forRoot(databaseUrl),
  ],
})
export class AppModule {}
