import { SagaEventType } from '../machine/saga-events.js';
import type { SagaStatus } from '../saga-status.js';
import type { SagaEventView, SagaView } from '../store/saga-views.js';
import { CRASH_BOUNDARIES, type ArmedCrash, type CrashBoundary, type SagaUnit } from './crash-point.js';
import { CrashExplorationError } from './crash-exploration.error.js';
import { describeSteps } from './describe-saga.js';
import type { SagaTestKit } from './saga-test-kit.js';

/** What every run of `exploreCrashes` must end with. */
export interface CrashExpectation {
  /** The status every run ends with, whatever crashed. */
  status: Extract<SagaStatus, 'completed' | 'compensated' | 'failed'>;
  /**
   * Checks one run's side effects once its saga has ended (and every crashed unit was redelivered);
   * throw, with `assert` for instance, to report what is wrong.
   */
  check?: (view: SagaView, kit: SagaTestKit) => unknown;
  /** @defaultValue all three */
  boundaries?: readonly CrashBoundary[];
}

/** One run of `exploreCrashes`. */
export interface CrashRun {
  /** Where it crashed; undefined for the first run, which crashes nowhere. */
  crash?: { boundary: CrashBoundary; unit: SagaUnit };
  sagaId?: string;
  /** The status the saga ended with. */
  status?: SagaStatus;
  /** What went wrong, if anything: a wrong status, a failed check, a saga that did not end. */
  problem?: string;
}

export interface CrashExplorationReport {
  /** The units of work of the run without a crash, in the order they ran. */
  units: SagaUnit[];
  /** Every run: the one without a crash first, then one per unit and boundary. */
  runs: CrashRun[];
}

/** The saga input of each run: one value for all, or a function of the run's number (0 first). */
export type ExplorationInput = unknown | ((run: number) => unknown);

/**
 * Runs the saga once without a crash to learn which units it runs, then once more per unit and
 * boundary with a crash there, and checks every run. Runs one at a time, so each can be checked
 * on its own.
 */
export async function exploreCrashes(
  kit: SagaTestKit,
  name: string,
  input: ExplorationInput,
  expectation: CrashExpectation,
): Promise<CrashExplorationReport> {
  const inputOf = (run: number): unknown => (typeof input === 'function' ? input(run) : input);

  async function runOnce(run: number, crash?: CrashRun['crash']): Promise<CrashRun> {
    let sagaId: string | undefined;
    let armed: ArmedCrash | undefined;
    try {
      sagaId = await kit.start(name, inputOf(run));
      // Armed in the same turn of the event loop as the start returned: the saga's first job
      // reaches Redis only on a later turn, so no unit of the saga can run before.
      armed = crash && kit.crashAt({ ...crash.unit, boundary: crash.boundary, sagaId });
      const view = await kit.runToEnd(sagaId);
      const ran = { crash, sagaId, status: view.status };
      if (armed && !armed.firedIn) {
        return { ...ran, problem: 'never reached: the saga took another path than it did without a crash' };
      }
      if (view.status !== expectation.status) {
        return {
          ...ran,
          problem: `ended ${view.status}, expected ${expectation.status}: ${describeSteps(view)}`,
        };
      }
      try {
        await expectation.check?.(view, kit);
      } catch (error) {
        return { ...ran, problem: `check failed: ${oneLine((error as Error).message)}` };
      }
      return ran;
    } catch (error) {
      return { crash, sagaId, problem: oneLine((error as Error).message) };
    } finally {
      armed?.disarm();
    }
  }

  const baseline = await runOnce(0);
  if (baseline.problem) throw new CrashExplorationError(name, [baseline], [baseline]);
  const units = unitsOf(await kit.events(baseline.sagaId!));
  const runs = [baseline];
  for (const unit of units) {
    for (const boundary of expectation.boundaries ?? CRASH_BOUNDARIES) {
      runs.push(await runOnce(runs.length, { boundary, unit }));
    }
  }
  const failures = runs.filter((run) => run.problem);
  if (failures.length > 0) throw new CrashExplorationError(name, failures, runs);
  return { units, runs };
}

/** The units of work a saga ran, from the events that claimed their attempts. */
function unitsOf(events: SagaEventView[]): SagaUnit[] {
  return events.flatMap((event): SagaUnit[] => {
    const phase =
      event.type === SagaEventType.StepStarted
        ? 'step'
        : event.type === SagaEventType.CompensationStarted
          ? 'compensation'
          : undefined;
    if (!phase || !event.step || event.attempt === undefined) return [];
    return [{ step: event.step, phase, attempt: event.attempt }];
  });
}

/** Assertion messages span lines; a report keeps one line per run. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
