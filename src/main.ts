import { loadConfigOrExit } from './config/app-config.js';
import { serve } from './serve.js';

serve(loadConfigOrExit()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
