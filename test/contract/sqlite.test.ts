import { runStoreContract } from './store-contract.js';
import { sqliteHarness } from './harness.js';

runStoreContract('SqliteStore', sqliteHarness, { clock: 'caller', persistent: true });
