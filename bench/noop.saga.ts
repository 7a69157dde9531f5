import { Module, type Type } from '@nestjs/common';
import { z } from 'zod';
import { Saga, Step, type StepContext } from '../src/saga/index.js';
import { TransitionClock } from './support/transition-clock.js';

export const NOOP_SAGA = 'noop';
export const NOOP_STEPS = 3;

/**
 * Three steps that do nothing but note when they are called and return, so that what the
 * engine benchmark measures is the engine: claiming, recording and handing over each step.
 */
@Saga({ name: NOOP_SAGA, version: 1, input: z.object({}) })
export class NoopSaga {
  constructor(private readonly clock: TransitionClock) {}

  @Step()
  first(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 0, () => undefined);
  }

  @Step()
  second(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 1, () => undefined);
  }

  @Step()
  third(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 2, () => undefined);
  }
}

/** Registered with AppModule.forRoot(config, [NoopSagaModule]); the clock is read back with app.get(TransitionClock). */
@Module({
  providers: [NoopSaga, { provide: TransitionClock, useFactory: () => new TransitionClock(NOOP_STEPS) }],
  exports: [TransitionClock],
})
export class NoopSagaModule {}

export const NOOP_PARALLEL_SAGA = 'noop-parallel';

/** The same three no-op steps as one parallel group: the engine runs them at once, then joins them. */
@Saga({ name: NOOP_PARALLEL_SAGA, version: 1, input: z.object({}) })
export class NoopParallelSaga {
  constructor(private readonly clock: TransitionClock) {}

  @Step({ group: 'all' })
  first(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 0, () => undefined);
  }

  @Step({ group: 'all' })
  second(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 1, () => undefined);
  }

  @Step({ group: 'all' })
  third(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 2, () => undefined);
  }
}

/** Nothing runs one after the other, so there is no hand-off to time: every handler is a first one. */
@Module({
  providers: [
    NoopParallelSaga,
    { provide: TransitionClock, useFactory: () => new TransitionClock(NOOP_STEPS, []) },
  ],
  exports: [TransitionClock],
})
export class NoopParallelSagaModule {}

export const NOOP_PARENT_SAGA = 'noop-parent';
export const NOOP_CHILD_SAGA = 'noop-child';

/** The child's input names its parent, so that the child's handlers are timed as the parent's. */
const ChildInput = z.object({ parent: z.string() });

/**
 * One no-op step, then a child step that runs a `noop-child` saga (two no-op steps) and completes
 * with its output. Handlers, as the clock numbers them: 0 `first`, 1 `child` (returns the child's
 * input), 2 and 3 the child's `first` and `second`; the parent ends when the engine has recorded
 * the child completed and then the child step.
 */
@Saga({ name: NOOP_PARENT_SAGA, version: 1, input: z.object({}) })
export class NoopParentSaga {
  constructor(private readonly clock: TransitionClock) {}

  @Step()
  first(ctx: StepContext): void {
    this.clock.run(ctx.sagaId, 0, () => undefined);
  }

  @Step({ child: NOOP_CHILD_SAGA })
  child(ctx: StepContext): z.infer<typeof ChildInput> {
    return this.clock.run(ctx.sagaId, 1, () => ({ parent: ctx.sagaId }));
  }
}

@Saga({ name: NOOP_CHILD_SAGA, version: 1, input: ChildInput })
export class NoopChildSaga {
  constructor(private readonly clock: TransitionClock) {}

  @Step()
  first(ctx: StepContext<z.infer<typeof ChildInput>>): void {
    this.clock.run(ctx.input.parent, 2, () => undefined);
  }

  @Step()
  second(ctx: StepContext<z.infer<typeof ChildInput>>): void {
    this.clock.run(ctx.input.parent, 3, () => undefined);
  }
}

@Module({
  providers: [
    NoopParentSaga,
    NoopChildSaga,
    // parent's first → child step's handler → child's first → child's second
    { provide: TransitionClock, useFactory: () => new TransitionClock(4) },
  ],
  exports: [TransitionClock],
})
export class NoopParentSagaModule {}

export const NOOP_KEYED_SAGA = 'noop-keyed';

/** The three no-op steps in a row, one saga per `key` at a time (the others queue behind it). */
@Saga({
  name: NOOP_KEYED_SAGA,
  version: 1,
  input: z.object({ key: z.string() }),
  concurrencyKey: (input) => input.key,
})
export class NoopKeyedSaga extends NoopSaga {}

@Module({
  providers: [NoopKeyedSaga, { provide: TransitionClock, useFactory: () => new TransitionClock(NOOP_STEPS) }],
  exports: [TransitionClock],
})
export class NoopKeyedSagaModule {}

export type SagaShapeName = 'linear' | 'parallel' | 'child' | 'keyed100' | 'keyed1';

/** What the engine's throughput scenario runs: the saga it starts, in the module that registers it. */
export interface SagaShape {
  /** The saga started (for `child`, the parent). */
  saga: string;
  module: Type;
  /** No-op steps per saga: what steps/s counts (the child step of `child` is not one). */
  steps: number;
  /** Handler calls per saga, every one timed by the module's TransitionClock. */
  handlers: number;
  description: string;
  /** The sagas started take their concurrency key from this many keys, in turn. @defaultValue no key */
  keys?: number;
}

export const SAGA_SHAPES: Record<SagaShapeName, SagaShape> = {
  linear: {
    saga: NOOP_SAGA,
    module: NoopSagaModule,
    steps: NOOP_STEPS,
    handlers: NOOP_STEPS,
    description: 'three no-op steps, one after the other',
  },
  parallel: {
    saga: NOOP_PARALLEL_SAGA,
    module: NoopParallelSagaModule,
    steps: NOOP_STEPS,
    handlers: NOOP_STEPS,
    description: 'three no-op steps in one parallel group',
  },
  child: {
    saga: NOOP_PARENT_SAGA,
    module: NoopParentSagaModule,
    steps: NOOP_STEPS,
    handlers: 4,
    description: 'one no-op step, then a child step running a child saga of two no-op steps',
  },
  keyed100: {
    saga: NOOP_KEYED_SAGA,
    module: NoopKeyedSagaModule,
    steps: NOOP_STEPS,
    handlers: NOOP_STEPS,
    description: 'three no-op steps in a row, one saga per key at a time, 100 keys',
    keys: 100,
  },
  keyed1: {
    saga: NOOP_KEYED_SAGA,
    module: NoopKeyedSagaModule,
    steps: NOOP_STEPS,
    handlers: NOOP_STEPS,
    description: 'three no-op steps in a row, one saga per key at a time, 1 key',
    keys: 1,
  },
};
