// Entry point of an application process spawned by tests: the real server (src/serve.ts) with the
// application's sagas and the test fixture sagas, configured from the environment like `npm start`.
import { SAGA_MODULES } from '../../src/app.module.js';
import { loadConfig } from '../../src/config/app-config.js';
import { serve } from '../../src/serve.js';
import { ScriptedSagaModule } from './fixtures/scripted.saga.js';

serve(loadConfig(), [...SAGA_MODULES, ScriptedSagaModule]).catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
