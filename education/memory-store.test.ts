import { MemoryEducationStore } from './memory-store.ts';
import { describeEducationStoreContract } from './store.contract.ts';

describeEducationStoreContract('in-memory', { open: async () => new MemoryEducationStore() });
