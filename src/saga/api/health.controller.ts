import { InjectQueue } from '@nestjs/bullmq';
import { Controller, Get, Res } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { SAGA_QUEUE } from '../execution/saga-queue.js';
import { SagaDatabase } from '../store/saga-database.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';
import { healthSchema } from './openapi/response-schemas.js';

type Dependency = 'up' | 'down';

const CHECK_TIMEOUT_MS = 1000;

@Controller('health')
export class HealthController {
  constructor(
    private readonly database: SagaDatabase,
    @InjectQueue(SAGA_QUEUE) private readonly queue: Queue,
  ) {}

  /** 200 when Postgres and Redis both answer within a second, else 503 naming what is down. */
  @Get()
  @OpenApiOperation({
    summary: 'Whether Postgres and Redis answer',
    responses: {
      200: { description: 'Both answer', schema: healthSchema },
      503: { description: 'What is down', schema: healthSchema },
    },
  })
  async health(
    @Res({ passthrough: true }) response: { status(code: number): void },
  ): Promise<{ status: 'ok' | 'unavailable'; postgres: Dependency; redis: Dependency }> {
    const [postgres, redis] = await Promise.all([
      probe(() => this.database.sql`SELECT 1`),
      probe(async () => (await this.queue.backend.client).runCommand('ping', [])),
    ]);
    const ok = postgres === 'up' && redis === 'up';
    response.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', postgres, redis };
  }
}

async function probe(check: () => PromiseLike<unknown>): Promise<Dependency> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
