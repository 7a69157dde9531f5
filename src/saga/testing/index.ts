// The test kit for saga authors: `import { SagaTestKit } from 'nest-saga/testing'`. Not loaded by
// the engine's own entry point, so production code never loads it.
export {
  SagaTestKit,
  type SagaTestKitOptions,
  type SagaTestImports,
  type WaitOptions,
} from './saga-test-kit.js';
export type { SagaTestEnvironmentOptions } from './test-environment.js';
export type { CrashBoundary, CrashPoint, ArmedCrash, SagaUnit } from './crash-point.js';
export type {
  CrashExpectation,
  CrashExplorationReport,
  CrashRun,
  ExplorationInput,
} from './crash-explorer.js';
export { CrashExplorationError } from './crash-exploration.error.js';
export { SagaTestTimeoutError } from './saga-test-timeout.error.js';
export { InjectedCrashError } from './injected-crash.error.js';
export type { SagaView, StepView, CompensationView, SagaEventView } from '../store/saga-views.js';
