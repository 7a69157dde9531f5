import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createDatabaseIfMissing, dropDatabase } from '../../src/saga/store/database-lifecycle.js';
import { wipeRedisPrefix } from '../../src/saga/testing/redis-keys.js';

/** The repository, from dist/test/integration. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a program to completion; its stdout, or an error carrying its output. */
async function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  try {
    const { stdout } = await promisify(execFile)(file, args, {
      ...options,
      env: { ...process.env, ...options.env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60_000,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

/** The application's own dependencies; nest-saga's come from its package.json. */
const APP_DEPENDENCIES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  'reflect-metadata',
  'rxjs',
  'zod',
];

/** A Nest application of somebody else's: its own saga and service, the engine from 'nest-saga'. */
const APP_SOURCE = `
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { z } from 'zod';
import { Saga, SagaModule, SagaQueries, SagaService, Step, type SagaView, type StepContext } from 'nest-saga';

const Greeting = z.object({ name: z.string().min(1) });
type Greeting = z.infer<typeof Greeting>;

@Injectable()
class Greeter {
  greet(name: string): string {
    return \`Hello, \${name}!\`;
  }
}

@Saga({ name: 'greeting', input: Greeting })
class GreetingSaga {
  constructor(private readonly greeter: Greeter) {}

  @Step()
  compose(ctx: StepContext<Greeting>): { text: string } {
    return { text: this.greeter.greet(ctx.input.name) };
  }

  @Step()
  deliver(ctx: StepContext<Greeting>): { delivered: string } {
    return { delivered: ctx.result<{ text: string }>('compose').text };
  }
}

@Module({ providers: [Greeter, GreetingSaga] })
class GreetingModule {}

@Module({
  imports: [
    SagaModule.forRoot({
      databaseUrl: process.env.DATABASE_URL!,
      redisUrl: process.env.REDIS_URL!,
      queuePrefix: process.env.QUEUE_PREFIX!,
      migrate: true,
    }),
    GreetingModule,
  ],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(0, '127.0.0.1');
const started = await app.get(SagaService).start('greeting', { name: 'Ada' });
let saga: SagaView | undefined;
for (const deadline = Date.now() + 20_000; saga?.status !== 'completed' && Date.now() < deadline; ) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  saga = await app.get(SagaQueries).get(started.id);
}
const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
const overHttp = await fetch(\`\${url}/sagas/\${started.id}\`);
console.log(JSON.stringify({ saga, http: { status: overHttp.status, body: await overHttp.json() } }));
await app.close();
`;

const APP_TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2023',
    lib: ['es2023'],
    types: ['node'],
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

describe('the nest-saga package', () => {
  const id = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/saga_test_${id}`;
  const queuePrefix = `saga-test-${id}`;
  let dir: string | undefined;
  after(async () => {
    await dropDatabase(databaseUrl);
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 3 });
    await wipeRedisPrefix(redis, queuePrefix);
    redis.disconnect();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('installs from its tarball into another Nest application and runs that application’s saga', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nest-saga-package-'));
    await run('npm', ['run', 'build'], { cwd: ROOT });
    const [packed] = JSON.parse(
      await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT }),
    );

    // Only what a user needs: the engine compiled with its types, its migrations, the docs.
    const files: string[] = packed.files.map((file: { path: string }) => file.path);
    const shipped =
      /^(package\.json|README\.md|LICENSE|dist\/src\/saga\/.+\.(js|d\.ts)|src\/saga\/dashboard\/public\/[\w.-]+|drizzle\/saga\/(\d{4}_\w+\.sql|meta\/_journal\.json))$/;
    assert.deepEqual(
      files.filter((file) => !shipped.test(file)),
      [],
    );
    for (const file of [
      'dist/src/saga/index.js',
      'dist/src/saga/index.d.ts',
      'drizzle/saga/0000_saga_schema.sql',
    ]) {
      assert.ok(files.includes(file), `${file} is missing from the package`);
    }

    // The application: nest-saga from the tarball; every other package from this repository's node_modules.
    const app = join(dir, 'app');
    const installed = join(app, 'node_modules', 'nest-saga');
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1'], {
      cwd: dir,
    });
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
    const dependencies = [...APP_DEPENDENCIES, ...Object.keys(manifest.dependencies), '@types/node'];
    for (const name of new Set(dependencies)) {
      const link = join(app, 'node_modules', name);
      await mkdir(dirname(link), { recursive: true });
      await symlink(join(ROOT, 'node_modules', name), link, 'dir');
    }
    const appManifest = {
      name: 'someone-elses-app',
      private: true,
      type: 'module',
      dependencies: {
        ...Object.fromEntries(APP_DEPENDENCIES.map((name) => [name, '*'])),
        'nest-saga': `file:../${packed.filename}`,
      },
    };
    await writeFile(join(app, 'package.json'), JSON.stringify(appManifest, null, 2));
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(APP_TSCONFIG, null, 2));
    await mkdir(join(app, 'src'));
    await writeFile(join(app, 'src', 'main.ts'), APP_SOURCE);
    // Type-checks the application against the package's declarations, as its own build would.
    await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], {
      cwd: app,
    });

    // The application's own table called "sagas", in public, where the engine's used to be.
    await createDatabaseIfMissing(databaseUrl);
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE sagas (title text PRIMARY KEY)`;
      await sql`INSERT INTO sagas VALUES ('The Saga of Burnt Njal')`;

      const output = await run(process.execPath, [join(app, 'dist', 'main.js')], {
        cwd: app,
        env: { DATABASE_URL: databaseUrl, REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_PREFIX: queuePrefix },
      });
      const { saga, http } = JSON.parse(output.trim().split('\n').at(-1)!);
      assert.equal(saga.status, 'completed', output);
      assert.deepEqual(saga.output, {
        compose: { text: 'Hello, Ada!' },
        deliver: { delivered: 'Hello, Ada!' },
      });
      assert.equal(http.status, 200);
      assert.equal(http.body.status, 'completed');

      const tables = await sql<{ name: string }[]>`
        SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
        WHERE table_schema IN ('public', 'saga') ORDER BY 1`;
      assert.deepEqual(
        tables.map((t) => t.name),
        [
          'public.sagas',
          'saga.__drizzle_migrations',
          'saga.saga_events',
          'saga.saga_key_holders',
          'saga.saga_schedules',
          'saga.saga_signals',
          'saga.saga_units',
          'saga.sagas',
        ],
      );
      assert.deepEqual(
        [...(await sql`SELECT title FROM public.sagas`)],
        [{ title: 'The Saga of Burnt Njal' }],
      );
      const [stored] = await sql`SELECT name, status FROM saga.sagas WHERE id = ${saga.id}`;
      assert.deepEqual({ ...stored }, { name: 'greeting', status: 'completed' });
    } finally {
      await sql.end();
    }
  });
});
