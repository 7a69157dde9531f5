// The public API of the saga engine. Everything else in src/saga is internal.
export { SagaModule, type SagaModuleAsyncOptions } from './saga.module.js';
export type {
  DatabasePooling,
  SagaModuleOptions,
  SagaRole,
  SagaTracingOptions,
} from './saga-module-options.js';
export { Saga } from './decorators/saga.decorator.js';
export { Step } from './decorators/step.decorator.js';
export { Compensate } from './decorators/compensate.decorator.js';
export type {
  SagaOptions,
  StepOptions,
  CompensateOptions,
  SignalOptions,
} from './definition/saga-options.interface.js';
export type { RetryOptions, BackoffOptions } from './definition/retry-policy.js';
export type {
  StepContext,
  CompensationContext,
  SignalContext,
  StepName,
  StepOutput,
} from './execution/step-context.interface.js';
export { SagaService, type SagaSummary, type SignalReceipt } from './execution/saga.service.js';
export { SagaBulkActions, type SagaBulkFilter } from './execution/saga-bulk-actions.js';
export type { CreatedSaga, SagaTiming } from './store/saga.store.js';
export { SagaQueries, type SagaListFilter } from './store/saga-queries.js';
export { migrateSagaSchema } from './store/migrate-saga-schema.js';
export type { SagaView, StepView, CompensationView, ChildView, SagaEventView } from './store/saga-views.js';
export { SagaStatus, StepStatus, CompensationStatus } from './saga-status.js';
export { NonRetryableError } from './errors/non-retryable.error.js';
export { StepTimeoutError } from './errors/step-timeout.error.js';
export { SagaDefinitionError } from './errors/saga-definition.error.js';
export { SagaOptionsError } from './errors/saga-options.error.js';
export type { SagaError } from './errors/saga-error.js';
