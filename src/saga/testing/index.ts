// The test kit for saga authors: `import { SagaTestKit } from 'nest-saga/testing'`. Not loaded by
// the engine's own entry point, so production code never loads it.
export {
  SagaTestKit,
  type SagaTestKitOptions,
  type SagaTestImports,
  type WaitOptions,
  type StartOptions,
  type SignalOptions,
} from './saga-test-kit.js';
export type { SignalReceipt } from '../execution/saga.service.js';
export type { SagaTestEnvironmentOptions } from './test-environment.js';
export type { CrashBoundary, CrashPoint, ArmedCrash, SagaUnit } from './crash-point.js';
export type {
  CrashExpectation,
  CrashExplorationReport,
  CrashRun,
  ExplorationInput,
  ExplorationSignal,
} from './crash-explorer.js';
export { CrashExplorationError } from './crash-exploration.error.js';
export { SagaTestTimeoutError } from './saga-test-timeout.error.js';
export { SagaEndedError } from './saga-ended.error.js';
export { TimeSkipTimeoutError, type BusyUnit } from './time-skip-timeout.error.js';
// What start() and signal() throw, as the HTTP API answers them with 400, 404 and 409: the engine's
// entry point does not export these classes, and a test asserts on them.
export { InvalidInputError, type InputIssue } from '../errors/invalid-input.error.js';
export { UnknownSagaError } from '../errors/unknown-saga.error.js';
export { SagaNotFoundError } from '../errors/saga-not-found.error.js';
export { UnknownSignalError } from '../errors/unknown-signal.error.js';
export { SagaConflictError } from '../errors/saga-conflict.error.js';
export { InjectedCrashError } from './injected-crash.error.js';
export type { SagaView, StepView, CompensationView, SagaEventView } from '../store/saga-views.js';
