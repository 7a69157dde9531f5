import {
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';

/** Saga routes are served by `all` and `api` processes only, and need the API key when one is set. */
@Injectable()
export class SagaRoutesGuard implements CanActivate {
  constructor(@Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.options.role === 'worker')
      throw new NotFoundException('Worker processes serve only /health and /metrics');
    const { apiKey } = this.options;
    if (!apiKey) return true;
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>()
      .headers.authorization;
    if (!header || !sameSecret(header, `Bearer ${apiKey}`)) {
      throw new UnauthorizedException('Missing or wrong API key: send "Authorization: Bearer <key>"');
    }
    return true;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
