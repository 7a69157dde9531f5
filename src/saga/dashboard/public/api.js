// Calls to the saga API. The API key (when the server has one) is asked once per browser tab and
// kept in sessionStorage: a page load cannot carry a Bearer header, but every fetch here can.
const KEY = 'saga-dashboard-api-key';

/** An error answer of the API: `{ statusCode, error, message, issues? }`. */
export class ApiError extends Error {
  constructor(body) {
    super(body.message ?? `HTTP ${body.statusCode}`);
    this.status = body.statusCode;
    this.body = body;
  }
}

let askForKey = () => Promise.resolve(undefined);

/** The page's way of asking for a key; resolves with it, or undefined when the person gives up. */
export function onKeyNeeded(ask) {
  askForKey = ask;
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** The one question for a key that calls refused at once wait for. */
let asking;

/** Fetches with the key; on 401 asks for one (once for all the calls refused meanwhile) and tries again. */
async function authorized(path, init = {}) {
  for (;;) {
    const sent = sessionStorage.getItem(KEY);
    const response = await fetch(path, { ...init, headers: headers(init.headers) });
    if (response.status !== 401) return response;
    // Another call got a new key while this one was refused: try that one first.
    if (sessionStorage.getItem(KEY) !== sent) continue;
    const { message } = await response.json();
    asking ??= askForKey(message).finally(() => (asking = undefined));
    const key = await asking;
    if (!key) throw new ApiError({ statusCode: 401, message: 'An API key is needed' });
    sessionStorage.setItem(KEY, key);
  }
}

async function json(response) {
  const body = response.status === 204 ? undefined : await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(body ?? { statusCode: response.status });
  return body;
}

export const get = async (path) => json(await authorized(path));

export const post = async (path, body) =>
  json(
    await authorized(path, {
      method: 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );

/**
 * Reads `GET /sagas/{id}/stream` (through fetch, so that it carries the key) and calls
 * `onEvent(name, data)` for each event; resolves when the server ends the stream.
 */
export async function streamSaga(id, onEvent, signal) {
  const response = await authorized(`/sagas/${id}/stream`, { signal });
  if (!response.ok) return json(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      let data;
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data = line.slice(5).trim();
      }
      if (data !== undefined) onEvent(event, JSON.parse(data));
    }
  }
}
