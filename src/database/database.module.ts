import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { DatabasePooling } from '../saga/index.js';
import { AppDatabase } from './app-database.js';

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(databaseUrl: string, pooling: DatabasePooling = 'session'): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: AppDatabase, useFactory: () => new AppDatabase(databaseUrl, pooling) }],
      exports: [AppDatabase],
    };
  }
}
