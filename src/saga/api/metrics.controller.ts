import { Controller, Get, Header } from '@nestjs/common';
import { z } from 'zod';
import { SagaMetrics } from '../observability/saga-metrics.js';
import { OpenApiOperation } from './openapi/openapi-operation.decorator.js';

@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: SagaMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @OpenApiOperation({
    summary: 'Prometheus metrics',
    responses: {
      200: {
        description: 'Sagas by name and status, step attempts, durations, queue depths',
        contentType: 'text/plain',
        schema: z.string(),
      },
    },
  })
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
