/** One server-sent event as it arrived. */
export interface ServerSentEvent {
  event: string;
  id?: string;
  data: any;
}

/** A `text/event-stream` read to its end, with each event as it arrived and the comments (heartbeats). */
export interface SseReading {
  status: number;
  contentType: string | null;
  events: ServerSentEvent[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Closes the connection from the client's side. */
  abort(): void;
}

/** Opens `url` and parses what it sends as server-sent events, as they arrive. */
export async function readEventStream(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseReading> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  const reading: SseReading = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events: [],
    comments: [],
    ended: Promise.resolve(),
    abort: () => controller.abort(),
  };
  reading.ended = parse(response, reading).catch((error: Error) => {
    if (error.name !== 'AbortError') throw error;
  });
  return reading;
}

async function parse(response: Response, reading: SseReading): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) reading.comments.push(line.slice(1).trim());
        const colon = line.indexOf(':');
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
      }
      if (fields.data !== undefined)
        reading.events.push({
          event: fields.event ?? 'message',
          id: fields.id,
          data: JSON.parse(fields.data),
        });
    }
  }
}
