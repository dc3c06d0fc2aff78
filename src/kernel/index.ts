/**
 * The kernel: boot and the embedded state (home, key, ledger). The daemon, the actor
 * system and the uplinks arrive here with later issues. One way in.
 */
export {resolveHome, prepareHome, LEDGER_DIR} from './home.js';
export {openKernelState, type KernelState, type OpenOptions} from './open.js';
export {systemClock, systemRandom, SimulatedClock, randomIds, type IdSource} from './clock.js';
export {runSession, parseBudgetFlag, MAX_ACTIVATIONS_PER_RUN, type RunOptions, type RunResult} from './session.js';
export {openCapsuleStore} from './capsules.js';
export {statsProjection, statsView, type LedgerStats} from './stats.js';
export {bootReport, type BootReport} from './boot.js';
export {readAnchor, writeAnchor, anchorPath, ANCHOR_FILE} from './anchor.js';
export {openAuthority, budgetBook, ownerKey, principalKey, createPrincipal, approvalService, OWNER_KEY_FILE, PRINCIPALS_DIR} from './authority.js';
export {loadPolicy, POLICY_FILE} from './policy.js';
export {openSecrets, secretSource, setSecret, removeSecret, SECRETS_DIR} from './secrets.js';
export {MAX_SECRET_BYTES, SECRET_NAME_RE} from '../services/index.js';
