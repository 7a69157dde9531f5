import { Controller, Get, Header } from '@nestjs/common';
import { SagaMetrics } from '../observability/saga-metrics.js';

@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: SagaMetrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
