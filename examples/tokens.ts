/**
 * API tokens for the examples: TICKWORK_TOKEN (admin) and TICKWORK_READ_TOKEN from the environment, as for
 * `npm start` and `tickwork serve`, or a
 * random admin token printed once at start (examples only: never print secrets in a real server).
 */
import { randomBytes } from 'node:crypto';
import type { ApiToken } from '../src/http/index.js';

export function exampleTokens(): ApiToken[] {
  const tokens: ApiToken[] = [];
  let admin = process.env.TICKWORK_TOKEN;
  if (!admin) {
    admin = randomBytes(24).toString('hex');
    console.log(`No TICKWORK_TOKEN set; this run's admin token is ${admin}`);
  }
  tokens.push({ token: admin, role: 'admin' });
  const read = process.env.TICKWORK_READ_TOKEN;
  if (read) tokens.push({ token: read, role: 'read' });
  return tokens;
}

/** The tick task of the demo: prints the time, then takes 3 s. */
export async function tick(context: { signal: AbortSignal }): Promise<void> {
  console.log(`Tick! The async time is ${new Date().toISOString()}`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    context.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
