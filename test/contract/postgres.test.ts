import { runStoreContract } from './store-contract.js';
import { postgresHarness } from './harness.js';

runStoreContract('PostgresStore', postgresHarness, { clock: 'database', persistent: true });
