import { z } from 'zod';
import type { SagaBulkFilter } from '../execution/saga-bulk-actions.js';
import type { SagaStatus } from '../saga-status.js';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '../store/storable-json.js';
import { sagaNameFilter, timestamp } from './request-schemas.js';

/** A step's name in a path: a method name (an unknown one is a 404, which names the saga). */
export const stepNameSchema = z.string().min(1).max(200);

/** `POST /sagas/{id}/steps/{step}/skip`: the step's output (any JSON; null when absent) and why. */
export const skipBodySchema = z.strictObject({
  output: z.unknown().optional(),
  reason: z.string().min(1).max(1000).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE).optional(),
});

/** `POST /sagas/actions/{cancel,retry}`: at least one filter; a status among those the action applies to. */
export function bulkFilterSchema(statuses: readonly SagaStatus[]): z.ZodType<SagaBulkFilter> {
  return z
    .strictObject({
      name: sagaNameFilter.optional(),
      status: z
        .enum(statuses as [SagaStatus, ...SagaStatus[]], {
          message: `must be ${statuses.map((s) => `"${s}"`).join(' or ')}: the statuses this action applies to`,
        })
        .optional(),
      createdAfter: timestamp.optional(),
      createdBefore: timestamp.optional(),
    })
    .refine((filter) => Object.keys(filter).length > 0, {
      message: 'give at least one filter: name, status, createdAfter or createdBefore',
    });
}
