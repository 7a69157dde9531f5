import { Module } from '@nestjs/common';
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
