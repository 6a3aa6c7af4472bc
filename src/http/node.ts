/**
 * Bridges between Node's `http` objects and Web `Request`/`Response`, for the framework plugins.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

/** Options of {@link toWebRequest}. */
export interface ToWebRequestOptions {
  /** Path and query (`/scheduler/jobs?limit=5`). @defaultValue `req.url` */
  url?: string;
  /**
   * The body when a framework has read it already (a string or bytes); otherwise the request stream is
   * passed on unread.
   */
  body?: string | Uint8Array | null;
  /** Aborts when the client goes away (ends event streams). */
  signal?: AbortSignal;
}

/** A Web `Request` for a Node request; its body streams from `req` unless given. */
export function toWebRequest(req: IncomingMessage, options: ToWebRequestOptions = {}): Request {
  const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  const host = req.headers.host ?? 'localhost';
  const url = new URL(options.url ?? req.url ?? '/', `${encrypted ? 'https' : 'http'}://${host}`);
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined || key.startsWith(':')) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(key, v);
    else headers.set(key, value);
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (options.signal) init.signal = options.signal;
  if (method !== 'GET' && method !== 'HEAD') {
    if (options.body !== undefined) {
      init.body = options.body;
    } else {
      init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
  }
  return new Request(url, init);
}

/** An `AbortSignal` that aborts when `res` closes before it finished (the client went away). */
export function clientGone(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Whether a response is an event stream (to be streamed, never buffered). */
export function isStream(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
}

/** A Node `Readable` of a Web body; destroying it cancels the Web stream. */
export function toNodeReadable(body: ReadableStream<Uint8Array>): Readable {
  return Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>);
}

/**
 * Writes a Web `Response` to a Node `ServerResponse`, streaming its body (event streams are flushed as
 * they come); when the client goes away the body is cancelled.
 */
export async function writeWebResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  const cookies = response.headers.getSetCookie();
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') res.setHeader(key, value);
  });
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.body) {
    res.end();
    return;
  }
  if (isStream(response)) res.flushHeaders();
  const reader = response.body.getReader();
  const onClose = (): void => void reader.cancel().catch(() => {});
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.on('drain', go);
          res.on('close', go);
        });
      }
      if (res.destroyed) break;
    }
  } finally {
    res.off('close', onClose);
    if (!res.destroyed) res.end();
  }
}
