/**
 * Test helpers: `tickwork/testing`.
 * @packageDocumentation
 */
export { ManualClock, type ManualClockOptions } from './core/manual-clock.js';
