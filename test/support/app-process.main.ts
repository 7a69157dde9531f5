// Entry point of an application process spawned by tests: the real server (src/serve.ts) with the
// application's sagas and the test fixture sagas, configured from the environment like `npm start`.
// TEST_SAGA_MODULES (comma-separated names of SAGA_MODULES_BY_NAME) picks other saga modules, for a
// process that registers only some versions of a saga, say.
import type { DynamicModule, Type } from '@nestjs/common';
import { SAGA_MODULES } from '../../src/app.module.js';
import { loadConfigOrExit } from '../../src/config/app-config.js';
import { serve } from '../../src/serve.js';
import { ScheduledSagasModule } from './fixtures/scheduled.saga.js';
import { ScriptedSagaModule } from './fixtures/scripted.saga.js';
import { ThrottledSagaModule } from './fixtures/throttled.saga.js';
import { VersionedSagaV1Module } from './fixtures/versioned-v1.saga.js';
import { VersionedSagaModule } from './fixtures/versioned.saga.js';

const SAGA_MODULES_BY_NAME: Record<string, readonly (Type | DynamicModule)[]> = {
  app: SAGA_MODULES,
  scripted: [ScriptedSagaModule],
  throttled: [ThrottledSagaModule],
  scheduled: [ScheduledSagasModule],
  'versioned-v1': [VersionedSagaV1Module],
  versioned: [VersionedSagaModule],
};

function sagaModules(names = 'app,scripted'): (Type | DynamicModule)[] {
  return names.split(',').flatMap((name) => {
    const modules = SAGA_MODULES_BY_NAME[name.trim()];
    if (!modules) throw new Error(`TEST_SAGA_MODULES: no saga modules named "${name}"`);
    return modules;
  });
}

serve(loadConfigOrExit(), sagaModules(process.env.TEST_SAGA_MODULES)).catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
