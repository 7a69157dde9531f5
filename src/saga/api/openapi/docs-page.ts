import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const SWAGGER_UI = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** A file the docs page loads: from swagger-ui-dist, or written here. */
export interface DocsAsset {
  contentType: string;
  file?: string;
  text?: string;
}

/** Swagger UI, pointed at the document; no call leaves the app (its online spec validator is off). */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

/** What `GET /docs/assets/{file}` serves, by file name; nothing else is. */
export const DOCS_ASSETS: Readonly<Record<string, DocsAsset>> = {
  'swagger-ui.css': { contentType: 'text/css; charset=utf-8', file: join(SWAGGER_UI, 'swagger-ui.css') },
  'swagger-ui-bundle.js': {
    contentType: 'text/javascript; charset=utf-8',
    file: join(SWAGGER_UI, 'swagger-ui-bundle.js'),
  },
  'favicon-32x32.png': { contentType: 'image/png', file: join(SWAGGER_UI, 'favicon-32x32.png') },
  'docs.js': { contentType: 'text/javascript; charset=utf-8', text: INIT_SCRIPT },
};

/** `GET /docs`: every asset it loads is served by the app itself, so it works with no internet access. */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Sagas: API docs</title>
    <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" />
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/docs/assets/docs.js"></script>
  </body>
</html>
`;
