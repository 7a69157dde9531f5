import { z } from 'zod';
import { OpenApiOperation } from '../api/openapi/openapi-operation.decorator.js';
import { Controller, Get, Header, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAGA_MODULE_OPTIONS, type ResolvedSagaModuleOptions } from '../saga-module-options.js';

/** The dashboard's own sources: plain ES modules, served as they are (no build step). */
const PUBLIC_DIR = fileURLToPath(new URL('../../../../src/saga/dashboard/public/', import.meta.url));
const require = createRequire(import.meta.url);

/** The libraries the page loads, from this app's node_modules: nothing comes from the internet. */
const VENDOR_FILES: Record<string, string> = {
  'preact.mjs': require.resolve('preact'),
  'preact-hooks.mjs': require.resolve('preact/hooks'),
  // htm's export map offers its ES module only under the "browser" and "import" conditions.
  'htm.mjs': join(dirname(require.resolve('htm')), 'htm.mjs'),
  'echarts.min.js': require.resolve('echarts/dist/echarts.min.js'),
  'pico.min.css': require.resolve('@picocss/pico/css/pico.min.css'),
};

interface FileResponse {
  sendFile(path: string, options: { maxAge: number; headers: Record<string, string> }): void;
}

/**
 * `GET /dashboard`: the web dashboard. The page and its scripts hold no data, so they are served
 * without the API key; the page asks for the key and sends it with each API call it makes.
 */
@Controller('dashboard')
export class DashboardController {
  private readonly files: Record<string, string>;

  constructor(@Inject(SAGA_MODULE_OPTIONS) private readonly options: ResolvedSagaModuleOptions) {
    const own = readdirSync(PUBLIC_DIR).map((name) => [name, join(PUBLIC_DIR, name)]);
    this.files = { ...Object.fromEntries(own), ...VENDOR_FILES };
  }

  @Get()
  @Header('Cache-Control', 'no-cache')
  @OpenApiOperation({
    summary: 'The web dashboard',
    responses: {
      200: { description: 'Its page', contentType: 'text/html', schema: z.string() },
      404: 'A worker process',
    },
    usesBackingServices: false,
  })
  page(@Res() response: FileResponse): void {
    this.send(response, 'index.html');
  }

  @Get('assets/:file')
  @OpenApiOperation({
    summary: 'A script, style or library of the dashboard',
    responses: { 200: { description: 'The file' }, 404: 'No such asset, or a worker process' },
    usesBackingServices: false,
  })
  asset(@Param('file') file: string, @Res() response: FileResponse): void {
    this.send(response, file);
  }

  private send(response: FileResponse, file: string): void {
    if (this.options.role === 'worker')
      throw new NotFoundException('Worker processes serve only /health and /metrics');
    const path = Object.hasOwn(this.files, file) ? this.files[file] : undefined;
    if (!path) throw new NotFoundException(`No dashboard asset "${file}"`);
    // Revalidated on each load, so that a new release's scripts are never mixed with an old one's.
    response.sendFile(path, { maxAge: 0, headers: { 'Cache-Control': 'no-cache' } });
  }
}
