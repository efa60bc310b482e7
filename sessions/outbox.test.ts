import { describeOutboxContract } from './outbox.contract.ts';
import { MemoryEscalationOutbox } from './outbox.ts';

describeOutboxContract('in-memory', { open: async () => new MemoryEscalationOutbox() });
