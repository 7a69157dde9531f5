// The app as `node dist/src/main.js` runs it, serving the bench's no-op sagas instead of the
// example sagas: the API and worker processes of the scale-out scenario.
import { loadConfig } from '../../src/config/app-config.js';
import { serve } from '../../src/serve.js';
import { NoopSagaModule } from '../noop.saga.js';

serve(loadConfig(), [NoopSagaModule]).catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
