import { defineConfig } from 'drizzle-kit';

// The engine's own migrations, shipped with the package and applied by migrateSagaSchema() in the
// schema the application chose. drizzle-kit writes the default schema's name ("saga".) into what it
// generates: remove it, so that each statement acts in the schema the migrations run in (the first
// of their search_path); test/unit/saga-schema.test.ts checks it.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/saga/store/schema.ts',
  out: './drizzle/saga',
  schemaFilter: ['saga'],
  migrations: { schema: 'saga', table: '__drizzle_migrations' },
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sagas' },
});
