import postgres from 'postgres';

/** Creating and dropping whole databases: what an application's start and a test's set-up need. */

export async function createDatabaseIfMissing(databaseUrl: string): Promise<void> {
  const name = databaseName(databaseUrl);
  const admin = adminClient(databaseUrl);
  try {
    const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (!exists) {
      await admin.unsafe(`CREATE DATABASE ${quoteIdentifier(name)}`).catch((error: { code?: string }) => {
        // Created by a process that started at the same time: Postgres says so with duplicate_database,
        // or, when both inserted into pg_database at once, with the catalog's unique_violation.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const admin = adminClient(databaseUrl);
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdentifier(databaseName(databaseUrl))} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** A connection to the server's `postgres` database; unnamed statements, so that it works through a pooler too. */
function adminClient(databaseUrl: string): postgres.Sql {
  return postgres(withDatabase(databaseUrl, 'postgres'), {
    max: 1,
    prepare: false,
    onnotice: () => undefined,
  });
}

function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
}

function withDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
