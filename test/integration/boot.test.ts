import type { DynamicModule, Provider, Type } from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants.js';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { SAGA_MODULES } from '../../src/app.module.js';
import { SAGA_METADATA } from '../../src/saga/decorators/metadata-keys.js';
import type { SagaOptions } from '../../src/saga/definition/saga-options.interface.js';
import { AppProcess, killAll } from '../support/app-process.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-app.js';

/** `npm start`'s entry point (src/main.ts: `serve(loadConfig())`), compiled next to this test's folder. */
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/**
 * Issue 12: a saga registered where the README points must be served, and the boot log must say
 * which sagas a process found, so that one that was not registered shows at boot rather than as
 * a 404 from `POST /sagas/{name}`.
 */
describe('boot: the sagas a process serves, and its log line listing them', () => {
  let t: TestEnvironment;
  let processes: AppProcess[];

  beforeEach(async () => {
    t = await createTestEnvironment();
    processes = [];
  });

  afterEach(async () => {
    await killAll(processes);
    await t.destroy();
  });

  async function start(entry?: string): Promise<AppProcess> {
    // The pretty format (people's): "[SagaExplorer] Found …".
    const p = await AppProcess.start({ entry, env: { ...t.env, LOG_LEVEL: 'log', LOG_FORMAT: 'pretty' } });
    processes.push(p);
    return p;
  }

  it('npm start serves every saga of SAGA_MODULES, the one place the README names', async () => {
    const expected = sagaNamesOf(SAGA_MODULES);
    assert.ok(expected.length > 0, 'SAGA_MODULES provides at least one @Saga class');
    const app = await start(MAIN);
    const line = foundLine(app);
    const listed = [...line.matchAll(/([\w.-]+)@\d+ \(/g)].map((match) => match[1]);
    assert.deepEqual(listed.sort(), [...expected].sort(), line);
    for (const name of expected) {
      // A registered saga validates the input (400) or starts (202); an unregistered one answers 404.
      const response = await app.http.post(`/sagas/${name}`, { unexpected: true });
      assert.ok(
        [202, 400].includes(response.status),
        `POST /sagas/${name}: ${response.status} ${response.text}`,
      );
    }
  });

  it('the boot log lists each saga with its version and its steps in order', async () => {
    const app = await start();
    const line = foundLine(app);
    assert.match(line, new RegExp(`^Found ${sagaNamesOf(SAGA_MODULES).length + 1} sagas: `));
    for (const saga of [
      'order@1 (reserveInventory → chargePayment → sendConfirmation)',
      'scripted@2 (a → b → c → d)',
    ])
      assert.ok(line.includes(saga), `${line}\nlists ${saga}`);
  });
});

/** The explorer's line about what it found (the process's log on failure). */
function foundLine(app: AppProcess): string {
  const found = [...app.logs.matchAll(/\[SagaExplorer\] (Found .*)/g)].map((match) => match[1].trimEnd());
  assert.equal(found.length, 1, `one "Found …" line from SagaExplorer\n${app.describe()}`);
  return found[0];
}

/** The names of the `@Saga` classes these modules provide, read from the decorators' metadata. */
function sagaNamesOf(modules: readonly (Type | DynamicModule)[]): string[] {
  return modules.flatMap((entry) => {
    const moduleClass = typeof entry === 'function' ? entry : entry.module;
    const providers: Provider[] = [
      ...((Reflect.getMetadata(MODULE_METADATA.PROVIDERS, moduleClass) as Provider[] | undefined) ?? []),
      ...(typeof entry === 'function' ? [] : (entry.providers ?? [])),
    ];
    return providers.flatMap((provider) => {
      const target =
        typeof provider === 'function' ? provider : 'useClass' in provider ? provider.useClass : undefined;
      const options = target && (Reflect.getMetadata(SAGA_METADATA, target) as SagaOptions | undefined);
      return options ? [options.name] : [];
    });
  });
}
