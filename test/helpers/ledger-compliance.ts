/**
 * The ledger compliance suite: one set of tests every LedgerStore backend must pass, from
 * the raw store contract up through the ledger on top of it (writes and group commit,
 * reads and checkpoints, verification against tampering). A backend's test file only
 * supplies a factory of fresh stores.
 */
import {storeContract} from './ledger-compliance-store.js';
import {appendContract} from './ledger-compliance-append.js';
import {queryContract} from './ledger-compliance-query.js';
import {verifyContract} from './ledger-compliance-verify.js';
import type {StoreFactory} from './ledger-fixtures.js';

export type {StoreFactory} from './ledger-fixtures.js';

/** Register the whole suite for the backend `name`; `makeStore` returns a fresh, unopened store each call. */
export function ledgerCompliance(name: string, makeStore: StoreFactory): void {
  storeContract(name, makeStore);
  appendContract(name, makeStore);
  queryContract(name, makeStore);
  verifyContract(name, makeStore);
}
