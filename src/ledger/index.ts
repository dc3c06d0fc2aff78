/**
 * The ledger: Astrid's audit log and event store. One way in.
 */
export {Ledger, splitStoredValue, LEDGER_FORMAT, type LedgerAnchor, type Clock, type LedgerOptions, type AppendInput, type Appended, type StoredEntry, type EntryQuery, type Head} from './ledger.js';
export {LedgerStore, type BatchOp, type BatchWriter, type RangeOptions, type StoreStatus} from './store.js';
export {MemoryStore} from './memory-store.js';
export {LevelStore, auxLocation, levelStats, type LevelStats} from './level-store.js';
export {isPlainMsgpack} from './codec.js';
export {packMsgpack, unpackMsgpack, decodePlainMsgpack} from './msgpack.js';
export {encodeEntry, decodeEntry, MAX_ENTRY_BYTES, type LedgerEntry, type AnyEntry, type DecodeResult} from './codec.js';
export {ENTRY_KINDS, ENTRY_FORMAT_VERSION, MAX_NOTE_CHARS, isEntryKind, parseBody, type EntryKind, type BodyByKind, type EntryBody} from './kinds.js';
export {
  parseSessionId,
  parsePrincipalId,
  parseActorId,
  parseSeq,
  isId,
  ID_RE,
  KERNEL_SESSION,
  KERNEL_PRINCIPAL,
  KERNEL_ACTOR,
  OWNER_PRINCIPAL,
  type Seq,
  type SessionId,
  type PrincipalId,
  type ActorId,
} from './ids.js';
export {
  signCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  checkCheckpoint,
  checkpointMessage,
  CHECKPOINT_DOMAIN,
  type Checkpoint,
  type CheckpointSigner,
  type CheckpointCheck,
} from './checkpoint.js';
export {verifyStore, ChainVerifier, VERIFY_ISSUE_CODES, type VerifyIssue, type VerifyIssueCode, type VerifyReport, type VerifyOptions} from './verify.js';
export {rebuild, rebuildAll, saveSnapshot, projectionStateHash, type Projection, type Rebuilt} from './projection.js';
export {exportBundle, verifyBundle, BUNDLE_FORMAT, BUNDLE_VERSION, type ExportResult} from './bundle.js';
export {entryKey, checkpointKey, snapshotKey, metaKey, P_ENTRY, P_CHECKPOINT, P_SESSION, P_ACTOR, P_META, P_INDEXED, INDEXED_KEY, isChainKey, isIndexKey, prefixRange} from './keys.js';
