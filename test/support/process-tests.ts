import { afterEach, beforeEach, it } from 'node:test';
import { AppProcess, killAll, type Role } from './app-process.js';
import { createTestEnvironment, type TestEnvironment } from './test-app.js';

/** A suite whose tests each run real application processes on an environment of their own. */
export interface ProcessTests {
  /** The current test's database, BullMQ prefix and clients. */
  readonly t: TestEnvironment;
  /** Starts a process of `role` on the current test's environment (plus `env`); it is SIGKILLed after the test. */
  start(role: Role, env?: Record<string, string>): Promise<AppProcess>;
  /** `it`, and a failed test shows what its processes said. */
  scenario(name: string, body: () => Promise<void>): void;
}

/** Call inside `describe`: a fresh environment before each test; its processes killed and the environment dropped after. */
export function processTests(defaults: Record<string, string> = {}): ProcessTests {
  let environment: TestEnvironment | undefined;
  let processes: AppProcess[] = [];
  beforeEach(async () => {
    environment = await createTestEnvironment();
    processes = [];
  });
  afterEach(async () => {
    await killAll(processes);
    await environment?.destroy();
  });
  return {
    get t() {
      return environment!;
    },
    async start(role, env = {}) {
      const p = await AppProcess.start({
        role,
        name: `${role}-${processes.length + 1}`,
        env: { ...environment!.env, ...defaults, ...env },
      });
      processes.push(p);
      return p;
    },
    scenario(name, body) {
      it(name, async () => {
        try {
          await body();
        } catch (error) {
          for (const p of processes) console.error(p.describe());
          throw error;
        }
      });
    },
  };
}
