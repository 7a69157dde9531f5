import { SagaOptionsError } from '../errors/saga-options.error.js';
import { DEFAULT_SAGA_SCHEMA } from './schema.js';

/**
 * An unquoted Postgres identifier, so that the name reads the same in a search_path, in SQL and in
 * psql. Not a schema someone else owns: public is the application's, pg_* and information_schema
 * are Postgres's, and drizzle holds the application's migration ledger.
 */
const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;
const TAKEN = new Set(['public', 'information_schema', 'drizzle']);

/** The schema of the engine's tables: `schema` when it is a valid name of its own, else the default. */
export function resolveSagaSchemaName(schema: string = DEFAULT_SAGA_SCHEMA): string {
  if (!SCHEMA_NAME.test(schema) || TAKEN.has(schema)) {
    throw new SagaOptionsError(
      'schema',
      `${JSON.stringify(schema)} must be 1-63 lower-case letters, digits or "_", not starting with a digit or ` +
        `"pg_", and not ${[...TAKEN].join(', ')}`,
    );
  }
  return schema;
}
