// The chaos harness's job definitions, shared by the workers (which add them) and the checker (which
// computes the expected fire times from them by plain arithmetic, never from the store).

/** What defines the harness's jobs. */
export interface ChaosConfig {
  /** Number of interval jobs `j0` ... `j{n-1}`. */
  jobs: number;
  /** Their interval, in ms. */
  interval: number;
  /** Grid origin (epoch ms, database clock); job i starts at `start + floor(i * interval / jobs)`. */
  start: number;
}

export interface JobDefinition {
  id: string;
  startDate: number;
}

export function jobDefinitions(config: ChaosConfig): JobDefinition[] {
  return Array.from({ length: config.jobs }, (_, i) => ({
    id: `j${i}`,
    startDate: config.start + Math.floor((i * config.interval) / config.jobs),
  }));
}

/** Fire times of an interval job with `startDate` in [from, to). */
export function fireTimes(startDate: number, interval: number, from: number, to: number): number[] {
  const out: number[] = [];
  const k0 = Math.max(0, Math.ceil((from - startDate) / interval));
  for (let t = startDate + k0 * interval; t < to; t += interval) out.push(t);
  return out;
}
