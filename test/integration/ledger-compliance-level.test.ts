// Proves LevelStore on real LevelDB in a temp dir honours the LedgerStore contract and that the ledger on it commits, reads, checkpoints and detects tampering as specified.
import {join} from 'node:path';
import {LevelStore} from '../../src/ledger/index.js';
import {ledgerCompliance} from '../helpers/ledger-compliance.js';
import {tmpDir} from '../helpers/index.js';

ledgerCompliance('LevelStore', async () => {
  const {dir, cleanup} = tmpDir('astrid-ledger-');
  const store = new LevelStore(join(dir, 'ledger'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      cleanup();
    },
  };
});
