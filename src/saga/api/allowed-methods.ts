/** What an Express 5 router layer tells about the route it holds (the `router` package's Layer). */
interface RouterLayer {
  route?: { methods: Record<string, boolean | undefined> };
  match(path: string): unknown;
}

/**
 * The methods that the app's routes serve at `path`, read from Express's own router, so that every
 * route counts, including routes added later, with Express's matching rules (case, trailing slash).
 * HEAD is served wherever GET is, as Express answers it. Empty when no route matches the path, or
 * when one serves every method (`app.all`).
 */
export function allowedMethods(app: unknown, path: string): string[] {
  const stack = (app as { router?: { stack?: RouterLayer[] } }).router?.stack ?? [];
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.route || !matches(layer, path)) continue;
    for (const method of Object.keys(layer.route.methods)) {
      if (method === '_all') return [];
      methods.add(method.toUpperCase());
    }
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

function matches(layer: RouterLayer, path: string): boolean {
  try {
    return Boolean(layer.match(path));
  } catch {
    // A parameter with a broken %-escape: Express answers such a request 400 when it routes it.
    return false;
  }
}
