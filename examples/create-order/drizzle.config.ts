import { defineConfig } from 'drizzle-kit';

// The example's tables, apart from the engine's (schema `saga`, migrated by the engine itself).
export default defineConfig({
  dialect: 'postgresql',
  schema: './examples/create-order/create-order.schema.ts',
  out: './examples/create-order/drizzle',
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ftgo' },
});
