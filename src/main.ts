import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { AppModule } from './app.module.js';
import { createApp } from './bootstrap.js';
import { loadConfig } from './config/app-config.js';
import { prepareDatabase } from './database/prepare-database.js';

async function main(): Promise<void> {
  const config = loadConfig();
  await prepareDatabase(config.DATABASE_URL);
  const app = await createApp(AppModule.forRoot(config), config);
  await app.listen(config.PORT);
  new Logger('Main').log(`${config.SAGA_ROLE} process listening on http://localhost:${config.PORT}`);
}

main().catch((error: Error) => {
  console.error(error.name === 'ConfigError' ? error.message : error);
  process.exit(1);
});
