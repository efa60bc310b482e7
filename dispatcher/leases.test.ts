import { describeLeasesContract } from './leases.contract.ts';
import { InMemoryPlacementLeases } from './leases.ts';

describeLeasesContract('in-memory', { open: async () => new InMemoryPlacementLeases() });
