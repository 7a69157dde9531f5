import { SetMetadata } from '@nestjs/common';
import type { ZodType } from 'zod';
import type { SagaOptions } from '../definition/saga-options.interface.js';
import { SAGA_METADATA } from './metadata-keys.js';

/** Marks a provider as a saga; its `@Step` methods run in declaration order. */
export const Saga = <Input extends ZodType>(options: SagaOptions<Input>): ClassDecorator =>
  SetMetadata(SAGA_METADATA, options);
