import { loadConfig } from './config/app-config.js';
import { serve } from './serve.js';

serve(loadConfig()).catch((error: Error) => {
  console.error(error.name === 'ConfigError' ? error.message : error);
  process.exit(1);
});
