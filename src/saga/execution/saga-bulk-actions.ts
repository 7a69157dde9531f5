import { Injectable } from '@nestjs/common';
import { SagaStatus } from '../saga-status.js';
import { SagaQueries } from '../store/saga-queries.js';
import { SagaService, type SagaSummary } from './saga.service.js';

/** Which sagas a bulk action applies to; at least one field is given (the API checks it). */
export interface SagaBulkFilter {
  name?: string;
  status?: SagaStatus;
  createdAfter?: Date;
  createdBefore?: Date;
}

/** Sagas looked up per page; each is then acted on in a transaction of its own. */
const PAGE_SIZE = 100;
/** Sagas acted on at once: a few of the pool's connections, so that the workers keep the rest. */
const PARALLEL = 4;

/** The statuses each bulk action applies to (a cancel stops sagas that still go forward). */
export const BULK_CANCELLABLE: readonly SagaStatus[] = [SagaStatus.Pending, SagaStatus.Running];
export const BULK_RETRYABLE: readonly SagaStatus[] = [SagaStatus.Failed];

/**
 * Cancels or retries every saga that matches a filter, through the single-saga actions of
 * SagaService: each saga is locked, decided on and committed on its own, so that thousands of
 * matches take no long transaction and no lock on more than one saga at a time. Sagas created
 * after the action began are not matched, so that a busy name cannot keep it going forever.
 */
@Injectable()
export class SagaBulkActions {
  constructor(
    private readonly sagas: SagaService,
    private readonly queries: SagaQueries,
  ) {}

  /** Cancels every matching pending or running saga; returns how many it cancelled. */
  cancel(filter: SagaBulkFilter): Promise<number> {
    return this.forEachMatch(filter, BULK_CANCELLABLE, (id) => this.sagas.cancel(id));
  }

  /** Retries every matching `failed` saga; returns how many it retried. */
  retry(filter: SagaBulkFilter): Promise<number> {
    return this.forEachMatch(filter, BULK_RETRYABLE, (id) => this.sagas.retry(id));
  }

  private async forEachMatch(
    filter: SagaBulkFilter,
    eligible: readonly SagaStatus[],
    act: (id: string) => Promise<SagaSummary>,
  ): Promise<number> {
    const now = new Date();
    const createdBefore = filter.createdBefore && filter.createdBefore < now ? filter.createdBefore : now;
    let acted = 0;
    for (const status of filter.status ? [filter.status] : eligible) {
      let cursor: string | undefined;
      do {
        const page = await this.queries.list({ ...filter, status, createdBefore, limit: PAGE_SIZE, cursor });
        for (let i = 0; i < page.items.length; i += PARALLEL) {
          const batch = page.items.slice(i, i + PARALLEL);
          const results = await Promise.allSettled(batch.map((saga) => act(saga.id)));
          for (const result of results) {
            if (result.status === 'fulfilled') acted++;
            else if (!movedOn(result.reason)) throw result.reason;
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    }
    return acted;
  }
}

/** The saga changed since its page was read (it ended, or was retried by someone else): not acted on. */
function movedOn(error: unknown): boolean {
  const name = (error as Error | undefined)?.name;
  return name === 'SagaConflictError' || name === 'SagaNotFoundError';
}
