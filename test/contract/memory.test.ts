import { runStoreContract } from './store-contract.js';
import { memoryHarness } from './harness.js';

runStoreContract('MemoryStore', memoryHarness, { clock: 'caller', persistent: false });
