import { MemoryProfileStore } from './memory-store.ts';
import { profileStoreContract } from './store.contract.ts';

profileStoreContract('in memory', async (now) => new MemoryProfileStore({ now }));
