import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AppDatabase } from './app-database.js';

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: AppDatabase, useFactory: () => new AppDatabase(databaseUrl) }],
      exports: [AppDatabase],
    };
  }
}
