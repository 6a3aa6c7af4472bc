import { Scheduler, silentLogger, type Logger, type SchedulerOptions } from '../../src/index.js';
import { ManualClock } from '../../src/testing.js';
import { createApi, type ApiOptions, type TickworkApi } from '../../src/http/index.js';

export const ADMIN = 'admin-token-0123456789abcdef';
export const READER = 'read-token-0123456789abcdef';
export const AUTH = {
  tokens: [
    { token: ADMIN, role: 'admin' as const },
    { token: READER, role: 'read' as const },
  ],
};

export interface Harness {
  clock: ManualClock;
  scheduler: Scheduler;
  api: TickworkApi;
  /** Task calls, by task id. */
  calls: string[];
  /** Sends a request through `api.handle`; `token` defaults to the admin token (`null`: none). */
  call(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  /** Like `call`, and parses the JSON body. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test bodies are read loosely
  json<T = any>(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: T; headers: Headers }>;
  close(): Promise<void>;
}

/** A scheduler on a ManualClock with tasks `tick` (instant) and `slow` (5 s), and an API over it. */
export async function harness(
  options: { api?: Partial<ApiOptions>; scheduler?: SchedulerOptions; start?: boolean; logger?: Logger } = {},
): Promise<Harness> {
  const clock = new ManualClock('2024-01-01T00:00:00Z');
  const scheduler = new Scheduler({ clock, logger: options.logger ?? silentLogger, ...options.scheduler });
  const calls: string[] = [];
  scheduler.defineTask('tick', () => void calls.push('tick'));
  scheduler.defineTask('slow', async (ctx: { signal: AbortSignal }) => {
    calls.push('slow');
    await clock.sleep(5000, ctx.signal);
  });
  scheduler.defineTask('boom', () => {
    throw new Error('boom');
  });
  const api = createApi(scheduler, { auth: AUTH, ...options.api });
  if (options.start ?? true) await scheduler.start();
  const call: Harness['call'] = (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? ADMIN : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    return api.handle(new Request(`http://localhost${path}`, { method, headers, body }));
  };
  return {
    clock,
    scheduler,
    api,
    calls,
    call,
    async json(method, path, o) {
      const res = await call(method, path, o);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async close() {
      api.close();
      const done = scheduler.shutdown({ wait: false });
      await clock.advance(0);
      await done;
    },
  };
}

/** Reads an SSE body until `predicate` holds for the text so far (bounded by `maxChunks`). */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  predicate: (text: string) => boolean,
  maxChunks = 50,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for (let i = 0; i < maxChunks && !predicate(text); i++) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}
