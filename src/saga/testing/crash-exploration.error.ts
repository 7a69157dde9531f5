import type { CrashRun } from './crash-explorer.js';
import { describeCrash } from './crash-point.js';

/** `exploreCrashes` found runs that did not end as expected; `failures` says which crash broke what. */
export class CrashExplorationError extends Error {
  constructor(
    sagaName: string,
    readonly failures: CrashRun[],
    readonly runs: CrashRun[],
  ) {
    const lines = failures.map(
      (run) =>
        `  - ${run.crash ? `crash ${describeCrash(run.crash.boundary, run.crash.unit)}` : 'without a crash'}` +
        `${run.sagaId ? ` (saga ${run.sagaId})` : ''}: ${run.problem}`,
    );
    super(
      `exploreCrashes("${sagaName}"): ${failures.length} of ${runs.length} runs went wrong:\n${lines.join('\n')}`,
    );
    this.name = 'CrashExplorationError';
  }
}
