import { SetMetadata } from '@nestjs/common';
import type { StepOptions } from '../definition/saga-options.interface.js';
import { STEP_METADATA } from './metadata-keys.js';

/** Marks a method of a `@Saga` class as a step. */
export const Step = (options: StepOptions = {}): MethodDecorator => SetMetadata(STEP_METADATA, options);
