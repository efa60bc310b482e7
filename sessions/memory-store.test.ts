import { MemorySessionStore, MemoryUtteranceStore } from './memory-store.ts';
import { describeStoreContract } from './store.contract.ts';

describeStoreContract('in-memory', {
  open: async () => ({
    sessions: new MemorySessionStore(),
    utterances: new MemoryUtteranceStore(),
  }),
});
