import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { SagaOptionsError } from '../../src/saga/errors/saga-options.error.js';
import { resolveSagaModuleOptions } from '../../src/saga/saga-module-options.js';
import { resolveSagaSchemaName } from '../../src/saga/store/saga-schema-name.js';

/** drizzle/saga from dist/test/unit. */
const ENGINE_MIGRATIONS = fileURLToPath(new URL('../../../drizzle/saga', import.meta.url));

describe('the schema option', () => {
  it('defaults to saga and takes any other lower-case identifier', () => {
    assert.equal(resolveSagaSchemaName(undefined), 'saga');
    for (const name of ['billing_sagas', '_engine', 'x', 's2', 'a'.repeat(63)]) {
      assert.equal(resolveSagaSchemaName(name), name);
    }
  });

  it('refuses names that need quoting, are too long, or belong to someone else, naming the option', () => {
    const refused = [
      '',
      'Saga',
      '2sagas',
      'my-sagas',
      'sagas;drop',
      '"saga"',
      'a'.repeat(64),
      'public',
      'information_schema',
      'pg_sagas',
      'drizzle',
    ];
    for (const name of refused) {
      assert.throws(
        () => resolveSagaSchemaName(name),
        (error: unknown) =>
          error instanceof SagaOptionsError &&
          error.name === 'SagaOptionsError' &&
          error.message.includes('option schema') &&
          error.message.includes(JSON.stringify(name)),
        name,
      );
    }
  });

  it('is validated with the module options, so a bad one stops the boot', () => {
    const base = { databaseUrl: 'postgres://x/y', redisUrl: 'redis://x' };
    assert.equal(resolveSagaModuleOptions(base).schema, 'saga');
    assert.equal(resolveSagaModuleOptions(base).migrate, false);
    assert.throws(() => resolveSagaModuleOptions({ ...base, schema: 'public' }), SagaOptionsError);
  });
});

describe("the engine's migrations", () => {
  it('name no schema, so that they act in whichever schema the module is given', () => {
    const files = readdirSync(ENGINE_MIGRATIONS).filter((file) => file.endsWith('.sql'));
    assert.ok(files.length > 0);
    for (const file of files) {
      const text = readFileSync(join(ENGINE_MIGRATIONS, file), 'utf8');
      // What drizzle-kit writes for the default schema: `CREATE SCHEMA "saga"`, `"saga"."sagas"`.
      assert.doesNotMatch(text, /"saga"/, `${file} names the schema "saga"`);
    }
  });
});
