import { SagaEventType } from '../machine/saga-events.js';
import type { SagaStatus } from '../saga-status.js';
import type { SagaEventView, SagaView } from '../store/saga-views.js';
import { CRASH_BOUNDARIES, type ArmedCrash, type CrashBoundary, type SagaUnit } from './crash-point.js';
import { CrashExplorationError } from './crash-exploration.error.js';
import { describeSteps } from './describe-saga.js';
import type { SagaTestKit, StartOptions } from './saga-test-kit.js';

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
  /** How every run is started (a delayed start, a deadline of its own). @defaultValue at once, with the saga's deadline */
  start?: Omit<StartOptions, 'idempotencyKey'>;
  /**
   * Signals sent in every run, one after the other: each once a step of the saga waits for it
   * (time skipped until then, as by `runToEnd`), or with `when: 'start'` right after the start. A
   * run that ends before a step waits for one fails. @defaultValue none
   */
  signals?: ExplorationSignal[];
  /**
   * Steers every run after its start (and its `signals`), with its crash armed: send signals with
   * `kit.runUntilWaiting` and `kit.signal`, cancel it, look at it midway. The run is taken to its
   * end with `runToEnd` once it returns. @defaultValue none
   */
  drive?: (kit: SagaTestKit, sagaId: string, run: number) => unknown;
}

/** A signal that `exploreCrashes` sends in every run. */
export interface ExplorationSignal {
  name: string;
  /** The payload: one value for all runs, or a function of the run's number. */
  payload: unknown;
  /**
   * `'waiting'`: once a step of the saga waits for it, as a person or a service answering would;
   * `'start'`: right after the start, before any step runs (the saga keeps it until its step takes it).
   * @defaultValue 'waiting'
   */
  when?: 'waiting' | 'start';
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
 * Runs the saga once without a crash to learn which units it runs (its child sagas' too), then once
 * more per unit and boundary with a crash there, and checks every run. Runs one at a time, so each
 * can be checked on its own.
 */
export async function exploreCrashes(
  kit: SagaTestKit,
  name: string,
  input: ExplorationInput,
  expectation: CrashExpectation,
): Promise<CrashExplorationReport> {
  const perRun = (value: unknown, run: number): unknown => (typeof value === 'function' ? value(run) : value);
  const signals = expectation.signals ?? [];

  async function runOnce(run: number, crash?: CrashRun['crash']): Promise<CrashRun> {
    let sagaId: string | undefined;
    let armed: ArmedCrash | undefined;
    try {
      sagaId = await kit.start(name, perRun(input, run), expectation.start);
      // Armed in the same turn of the event loop as the start returned: the saga's first job
      // reaches Redis only on a later turn, so no unit of the saga can run before. A unit of a
      // child saga is named by the child steps that lead to it from this run's saga.
      armed = crash && kit.crashAt({ ...crash.unit, boundary: crash.boundary, sagaId });
      for (const signal of signals) {
        if (signal.when !== 'start') await kit.runUntilWaiting(sagaId, signal.name);
        await kit.signal(sagaId, signal.name, perRun(signal.payload, run));
      }
      await expectation.drive?.(kit, sagaId, run);
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
  const units = await familyUnits(kit, baseline.sagaId!);
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

/**
 * The units of work the saga and its child sagas ran, in the order they started: each saga's from
 * the events that claimed their attempts.
 */
async function familyUnits(kit: SagaTestKit, sagaId: string): Promise<SagaUnit[]> {
  const started: { at: string; unit: SagaUnit }[] = [];
  async function visit(id: string, via: string[], saga?: string): Promise<void> {
    const view = await kit.view(id);
    const child = via.length > 0 ? { via, saga } : {};
    // Undoing a child step runs no handler (its child saga compensates): no unit of work to crash.
    const undoneByChild = new Set(view.steps?.filter((s) => s.kind === 'child').map((s) => s.name));
    for (const { at, unit } of unitsOf(await kit.events(id))) {
      if (unit.phase === 'compensation' && undoneByChild.has(unit.step)) continue;
      started.push({ at, unit: { ...unit, ...child } });
    }
    for (const c of view.children ?? []) await visit(c.id, [...via, c.step], c.name);
  }
  await visit(sagaId, []);
  // A stable sort: units that started in one commit stay in the order of its events.
  return started.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).map((s) => s.unit);
}

/** The units of work a saga ran, from the events that claimed their attempts. */
function unitsOf(events: SagaEventView[]): { at: string; unit: SagaUnit }[] {
  return events.flatMap((event): { at: string; unit: SagaUnit }[] => {
    const phase =
      event.type === SagaEventType.StepStarted
        ? 'step'
        : event.type === SagaEventType.CompensationStarted
          ? 'compensation'
          : undefined;
    if (!phase || !event.step || event.attempt === undefined) return [];
    return [{ at: event.at, unit: { step: event.step, phase, attempt: event.attempt } }];
  });
}

/** Assertion messages span lines; a report keeps one line per run. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
