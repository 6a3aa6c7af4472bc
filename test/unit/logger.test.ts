// tickwork's own pino loggers (the default logger, the server's) log an error's cause once: nested under
// err.cause, not appended again to a message that already names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { stdSerializers, symbols } from 'pino';
import { defaultLogger, logSerializers } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/index.js';
import { buildServer } from '../../src/server/app.js';

/** A destination keeping each JSON line written. */
function lines(): { stream: Writable; lines: Record<string, unknown>[] } {
  const out: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) out.push(JSON.parse(line));
      callback();
    },
  });
  return { stream, lines: out };
}

/** A real store error with a cause: PostgreSQL refused at a port nothing listens on. */
async function refusedConnection(): Promise<Error> {
  const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
  try {
    await store.start({ nodeId: 'test', now: Date.now });
  } catch (err) {
    return err as Error;
  } finally {
    await store.stop().catch(() => {});
  }
  throw new Error('expected the store to fail');
}

test("the default logger logs an error's cause nested, and its message once", async () => {
  const err = await refusedConnection();
  // The store's error names its cause in its own message.
  assert.equal(err.message, 'PostgreSQL store failed: connect ECONNREFUSED 127.0.0.1:1');
  const out = lines();
  const logger = defaultLogger(out.stream);
  logger.warn('not an error');
  logger.info('below the level: dropped');
  logger.error({ err }, 'Job store "postgres" failed');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(out.lines.length, 2);
  assert.deepEqual(
    out.lines.map((l) => [l.name, l.level, l.msg]),
    [
      ['tickwork', 40, 'not an error'],
      ['tickwork', 50, 'Job store "postgres" failed'],
    ],
  );
  const logged = out.lines[1]!.err as {
    message: string;
    code: string;
    cause: { message: string; code: string };
  };
  // pino's default `err` serializer would log "...127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1".
  assert.equal(logged.message, 'PostgreSQL store failed: connect ECONNREFUSED 127.0.0.1:1');
  assert.equal(logged.code, 'STORE_ERROR');
  assert.equal(logged.cause.message, 'connect ECONNREFUSED 127.0.0.1:1');
  assert.equal(logged.cause.code, 'ECONNREFUSED');
});

test("the server's default Fastify logger uses the same serializers", async () => {
  const app = await buildServer();
  try {
    const serializers = (app.log as unknown as Record<symbol, Record<string, unknown>>)[
      symbols.serializersSym
    ]!;
    assert.equal(serializers.err, logSerializers.err);
    assert.equal(serializers.err, stdSerializers.errWithCause);
  } finally {
    await app.close();
  }
});
