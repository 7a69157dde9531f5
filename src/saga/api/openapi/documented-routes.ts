import { Injectable, RequestMethod, type Type } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { SagaRoutesGuard } from '../saga-routes.guard.js';
import { OPENAPI_OPERATION } from './openapi-operation.decorator.js';
import type { OpenApiOperationOptions } from './openapi-operation.interface.js';

/** A route of the app as Nest declares it, with what `@OpenApiOperation` says about it. */
export interface DocumentedRoute {
  /** OpenAPI's form of the path: `/sagas/{id}`. */
  path: string;
  /** Lower case, as OpenAPI's path items name operations. */
  method: string;
  /** `sagas.start`: the controller and the method serving the route. */
  operationId: string;
  tag: string;
  /** Behind the API key: its controller or method is guarded by SagaRoutesGuard. */
  needsApiKey: boolean;
  operation: OpenApiOperationOptions;
}

/** Reads every route of the app's controllers that carries `@OpenApiOperation`, from Nest's own metadata. */
@Injectable()
export class DocumentedRoutes {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  all(): DocumentedRoute[] {
    return this.discovery.getControllers().flatMap((wrapper) => {
      const controller = wrapper.metatype as Type | null;
      return controller ? this.routesOf(controller) : [];
    });
  }

  private routesOf(controller: Type): DocumentedRoute[] {
    const name = controller.name.replace(/Controller$/, '');
    const prefixes = asArray(Reflect.getMetadata(PATH_METADATA, controller));
    return this.scanner.getAllMethodNames(controller.prototype).flatMap((methodName) => {
      const handler = controller.prototype[methodName] as (...args: unknown[]) => unknown;
      const operation = this.reflector.get<OpenApiOperationOptions | undefined>(OPENAPI_OPERATION, handler);
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (!operation || method === undefined || method === RequestMethod.ALL) return [];
      const guards = this.reflector.getAllAndMerge<unknown[]>(GUARDS_METADATA, [handler, controller]);
      return prefixes.flatMap((prefix) =>
        asArray(Reflect.getMetadata(PATH_METADATA, handler)).map((path) => ({
          path: openApiPath(prefix, path),
          method: RequestMethod[method].toLowerCase(),
          operationId: `${name.charAt(0).toLowerCase()}${name.slice(1)}.${methodName}`,
          tag: name,
          needsApiKey: guards.includes(SagaRoutesGuard),
          operation,
        })),
      );
    });
  }
}

function asArray(path: unknown): string[] {
  return Array.isArray(path) ? (path as string[]) : [typeof path === 'string' ? path : ''];
}

/** `sagas` + `:id/events` → `/sagas/{id}/events`. */
function openApiPath(prefix: string, path: string): string {
  const joined = `/${prefix}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  return joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}
