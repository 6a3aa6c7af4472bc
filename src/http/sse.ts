/**
 * `GET /events`: the scheduler's events as server-sent events (`event: job:executed` / `data: {...}`), with
 * a heartbeat comment every `heartbeatInterval` ms. A stream ends when the client disconnects (its body is
 * cancelled or the request's signal aborts), when it falls too far behind, or when the API is closed.
 * @module
 */
import type { Clock, TimerHandle } from '../core/clock.js';
import type { SchedulerEventName } from '../core/events.js';
import type { Scheduler } from '../core/scheduler.js';

/** Options of {@link EventStreams}. */
export interface EventStreamOptions {
  /** Milliseconds between heartbeat comments. @defaultValue 15,000 */
  heartbeatInterval: number;
  /** Most streams open at once. @defaultValue 100 */
  maxStreams: number;
  /** Events queued for a slow client before its stream is closed. @defaultValue 1000 */
  maxQueued: number;
}

/** The open event streams of one API. */
export class EventStreams {
  private readonly open = new Set<() => void>();
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    private readonly options: EventStreamOptions,
  ) {}

  /** Number of open streams. */
  get size(): number {
    return this.open.size;
  }

  /** Whether another stream may be opened. */
  get full(): boolean {
    return this.open.size >= this.options.maxStreams;
  }

  /**
   * A `text/event-stream` response carrying the scheduler's events (only those in `names`, when given)
   * until the client goes away.
   */
  response(signal: AbortSignal, names: ReadonlySet<string> | null): Response {
    const { scheduler, clock, encoder, options } = this;
    let finish: () => void = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let done = false;
        let timer: TimerHandle | null = null;
        let seq = 0;
        const send = (text: string): void => {
          if (done) return;
          if ((controller.desiredSize ?? 0) < -options.maxQueued) {
            finish(); // a client this far behind is not reading: drop it
            return;
          }
          controller.enqueue(encoder.encode(text));
        };
        const beat = (): void => {
          timer = null;
          send(': heartbeat\n\n');
          if (!done) timer = clock.setTimeout(beat, options.heartbeatInterval);
        };
        const off = scheduler.onAny((payload, name: SchedulerEventName) => {
          if (names && !names.has(name)) return;
          send(`id: ${++seq}\nevent: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
        });
        const onAbort = (): void => finish();
        finish = () => {
          if (done) return;
          done = true;
          off();
          if (timer) clock.clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.open.delete(finish);
          try {
            controller.close();
          } catch {
            // cancelled by the reader already
          }
        };
        this.open.add(finish);
        send('retry: 5000\n: connected\n\n');
        timer = clock.setTimeout(beat, options.heartbeatInterval);
        if (signal.aborted) finish();
        else signal.addEventListener('abort', onAbort);
      },
      cancel: () => finish(),
    });
    return new Response(stream, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      },
    });
  }

  /** Ends every open stream. */
  closeAll(): void {
    for (const finish of [...this.open]) finish();
  }
}
