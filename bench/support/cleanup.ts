const pending: (() => Promise<void>)[] = [];
let installed = false;
let interrupted = false;

/**
 * Runs `cleanup` if the process is interrupted (Ctrl-C) before it is done, so that an aborted
 * run does not leave its database, Redis keys or app process behind. Cleanups run one at a time,
 * newest first: a process started on an environment stops before the environment is removed.
 * Returns the function that unregisters it; once interrupted, every registered cleanup runs
 * anyway, so it must be safe to call twice (see `once`).
 */
export function cleanUpOnInterrupt(cleanup: () => Promise<void>): () => void {
  if (!installed) {
    installed = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        interrupted = true;
        console.error(`\n${signal}: cleaning up…`);
        // Whatever was running fails as its database and connections go away; that must not
        // end the process before the cleanup has.
        process.on('uncaughtException', () => undefined);
        process.on('unhandledRejection', () => undefined);
        setTimeout(() => process.exit(130), 30_000).unref();
        void runAll().then(() => process.exit(130));
      });
    }
  }
  pending.push(cleanup);
  return () => {
    const index = pending.indexOf(cleanup);
    if (!interrupted && index >= 0) pending.splice(index, 1);
  };
}

/** Once interrupted, what fails is the interruption's doing and not worth a stack trace. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** `action` runs at most once; later calls share its promise (a cleanup may be asked for twice). */
export function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}

async function runAll(): Promise<void> {
  while (pending.length > 0) {
    await pending.pop()!().catch((error: Error) => console.error(`cleanup failed: ${error.message}`));
  }
}
