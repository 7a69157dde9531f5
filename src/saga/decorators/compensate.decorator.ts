import { SetMetadata } from '@nestjs/common';
import type { CompensateOptions } from '../definition/saga-options.interface.js';
import { COMPENSATE_METADATA } from './metadata-keys.js';

export interface CompensateMetadata {
  step: string;
  options: CompensateOptions;
}

/** Marks a method as the compensation that undoes step `step` of the same saga. */
export const Compensate = (step: string, options: CompensateOptions = {}): MethodDecorator =>
  SetMetadata<string, CompensateMetadata>(COMPENSATE_METADATA, { step, options });
