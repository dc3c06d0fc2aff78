/**
 * Crypto core: BLAKE3 (hash-wasm), strict Ed25519 (node:crypto + canonicality checks),
 * the kernel key store, and byte helpers. Everything hashed or signed goes through here.
 */
export {Blake3, BLAKE3_LEN, BLAKE3_DIRECT_MAX, parseBlake3Hex, type Blake3Hex} from './blake3.js';
export {
  SigningKey,
  verifyStrict,
  verifyStrictAsync,
  publicKeyProblem,
  parsePublicKey,
  isCanonicalScalar,
  isCanonicalPointEncoding,
  ED25519_PUBLIC_KEY_LEN,
  ED25519_SIGNATURE_LEN,
  ED25519_SEED_LEN,
  type KeyProblem,
} from './ed25519.js';
export {loadOrCreateKernelKey, loadOrCreateKeyFile, loadKeyFile, ensurePrivateDir, readPrivateFile, replacePrivateFile, removePrivateFile, KEYS_DIR, KERNEL_KEY_FILE, KERNEL_PUB_FILE} from './keystore.js';
export {toHex, fromHex, bytesEqual, concatBytes, u64be, readU64be} from './bytes.js';
