import { MemoryFollowUpStore, MemoryKnowledgeStore } from './memory-store.ts';
import { describeKnowledgeStoreContract } from './store.contract.ts';

describeKnowledgeStoreContract('in-memory', {
  open: async () => ({
    knowledge: new MemoryKnowledgeStore(),
    followUps: new MemoryFollowUpStore(),
  }),
});
