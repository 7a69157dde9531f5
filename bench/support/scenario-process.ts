import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { cleanUpOnInterrupt, once as runOnce } from './cleanup.js';

/** What a scenario process sends its parent over IPC. */
type ScenarioMessage =
  | { kind: 'progress'; done: number }
  | { kind: 'result'; result: unknown }
  | { kind: 'error'; message: string };

/**
 * Runs a scenario in a fresh node process: each one starts with a cold heap and its own event
 * loop, so scenarios do not inherit each other's garbage, and the process's RSS is its own.
 */
export function runScenarioProcess<Result>(
  script: URL,
  options: unknown,
  onProgress: (done: number) => void,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    // Whatever the scenario logs goes to stderr: stdout carries the report (or, with --json, only JSON).
    const child = fork(fileURLToPath(script), [JSON.stringify(options)], { stdio: ['ignore', 2, 2, 'ipc'] });
    // On Ctrl-C it stops before its environment is removed, or it would write to it meanwhile.
    const exited = once(child, 'exit');
    const unregister = cleanUpOnInterrupt(
      runOnce(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }),
    );
    let outcome: { result: Result } | { error: Error } | undefined;
    child.on('message', (message: ScenarioMessage) => {
      if (message.kind === 'progress') onProgress(message.done);
      else if (message.kind === 'result') outcome = { result: message.result as Result };
      else outcome = { error: new Error(message.message) };
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      unregister();
      if (outcome && 'result' in outcome) resolve(outcome.result);
      else
        reject(
          outcome?.error ?? new Error(`${fileURLToPath(script)} exited (${signal ?? code}) without a result`),
        );
    });
  });
}

/** The child's side: its options, its progress reports, and its one result. */
export const scenarioChild = {
  options<T>(): T {
    return JSON.parse(process.argv[2] ?? '{}') as T;
  },

  progress(done: number): void {
    process.send?.({ kind: 'progress', done } satisfies ScenarioMessage);
  },

  /** Runs `main`, sends its result (or its error) and exits: open handles must not keep the child alive. */
  run<T>(main: () => Promise<T>): void {
    // The bench was interrupted or died: nobody will read the result, and nobody else stops us.
    process.once('disconnect', () => process.exit(1));
    const finish = (message: ScenarioMessage, code: number) => {
      if (process.send) process.send(message, () => process.exit(code));
      else {
        console.log(JSON.stringify(message, null, 2));
        process.exit(code);
      }
    };
    main().then(
      (result) => finish({ kind: 'result', result }, 0),
      (error: Error) => finish({ kind: 'error', message: error.stack ?? String(error) }, 1),
    );
  },
};
