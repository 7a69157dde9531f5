import { Controller, Get, UseGuards } from '@nestjs/common';
import { SagaScheduler } from '../schedules/saga-scheduler.js';
import { ScheduleStore } from '../schedules/schedule.store.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import { scheduleListSchema } from './openapi/response-schemas.js';
import { SagaRoutesGuard } from './saga-routes.guard.js';

/** A cron schedule as `GET /schedules` shows it. */
export interface ScheduleView {
  id: string;
  saga: string;
  cron: string;
  timezone: string;
  /** The fire time it waits for (in the past while no worker runs to fire it). */
  nextFireAt: string;
  lastFireAt?: string;
  /** The saga its last fire started. */
  lastSagaId?: string;
}

@Controller('schedules')
@UseGuards(SagaRoutesGuard)
export class SchedulesController {
  constructor(
    private readonly scheduler: SagaScheduler,
    private readonly store: ScheduleStore,
  ) {}

  /** The schedules this process's code declares, by id, with their state in Postgres. */
  @Get()
  @OpenApiOperation({
    summary: 'The cron schedules declared in code, with their next and last fire',
    responses: { 200: { description: 'The schedules', schema: scheduleListSchema } },
  })
  async list(): Promise<{ items: ScheduleView[] }> {
    const rows = await this.store.list(this.scheduler.ids());
    return {
      items: rows.map((row) => ({
        id: row.id,
        saga: row.saga,
        cron: row.cron,
        timezone: row.timezone,
        nextFireAt: row.nextFireAt.toISOString(),
        ...(row.lastFireAt ? { lastFireAt: row.lastFireAt.toISOString() } : {}),
        ...(row.lastSagaId ? { lastSagaId: row.lastSagaId } : {}),
      })),
    };
  }
}
