import { runStoreContract } from './store-contract.js';
import { redisHarness } from './harness.js';

runStoreContract('RedisStore', redisHarness, { clock: 'database', persistent: true });
