// Proves MemoryStore honours the LedgerStore contract and that the ledger on it commits, reads, checkpoints and detects tampering as specified.
import {MemoryStore} from '../../src/ledger/index.js';
import {ledgerCompliance} from '../helpers/ledger-compliance.js';

ledgerCompliance('MemoryStore', async () => ({store: new MemoryStore(), cleanup: () => undefined}));
