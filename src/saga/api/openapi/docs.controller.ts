import {
  Controller,
  Get,
  Header,
  NotFoundException,
  Param,
  Res,
  StreamableFile,
  UseGuards,
} from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { z } from 'zod';
import { SagaRoutesGuard } from '../saga-routes.guard.js';
import { DOCS_ASSETS, DOCS_PAGE } from './docs-page.js';
import { OpenApiDocumentFactory, type OpenApiDocument } from './openapi-document.factory.js';
import { OpenApiOperation } from './openapi-operation.decorator.js';

/** The API's own description, and a page to read and try it; behind the API key like the API itself. */
@Controller()
@UseGuards(SagaRoutesGuard)
export class DocsController {
  constructor(private readonly documents: OpenApiDocumentFactory) {}

  @Get('openapi.json')
  @OpenApiOperation({
    summary: 'This document',
    responses: { 200: { description: 'The OpenAPI 3.1 document of every route' } },
    usesBackingServices: false,
  })
  document(): OpenApiDocument {
    return this.documents.document();
  }

  @Get('docs')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @OpenApiOperation({
    summary: 'Interactive API docs',
    responses: {
      200: { description: 'A page rendering this document', contentType: 'text/html', schema: z.string() },
    },
    usesBackingServices: false,
  })
  page(): string {
    return DOCS_PAGE;
  }

  @Get('docs/assets/:file')
  @OpenApiOperation({
    summary: 'A script, style or image of the docs page',
    params: { file: z.enum(Object.keys(DOCS_ASSETS)) },
    responses: { 200: { description: 'The file' }, 404: 'No such asset' },
    usesBackingServices: false,
  })
  asset(
    @Param('file') file: string,
    @Res({ passthrough: true }) response: { setHeader(name: string, value: string): void },
  ): StreamableFile {
    const asset = Object.hasOwn(DOCS_ASSETS, file) ? DOCS_ASSETS[file] : undefined;
    if (!asset) throw new NotFoundException(`No docs asset named ${file}`);
    // They change only with swagger-ui-dist's version; `private`, as they may sit behind the API key.
    // Set here, not with @Header, so that an error (a 401, a 404) is never cached.
    response.setHeader('Cache-Control', 'private, max-age=3600');
    const options = { type: asset.contentType };
    return asset.file
      ? new StreamableFile(createReadStream(asset.file), options)
      : new StreamableFile(Buffer.from(asset.text!), options);
  }
}
