/**
 * The sandbox: capsule packages and manifests, module validation, fuel and memory
 * instrumentation, the content-addressed store, instances and the host ABI v1. One way in.
 */
export {parseManifest, manifestToml, MANIFEST_FILE, ABI_VERSION, NAME_RE, BUDGET_LIMITS, DEFAULT_BUDGET, type Manifest, type Budget, type ResourceBounds} from './manifest.js';
export {ABI_ERRORS, ABI_LIMITS, ABI_IMPORTS, ABI_MODULE, RT_MODULE, FUEL_EXPORT, LOG_LEVELS, type AbiErrorName} from './abi.js';
export {inspectWasm, type WasmInfo} from './wasm-inspect.js';
export {validateCapsuleModule, type ValidatedModule} from './validate.js';
export {CapsuleInstance, OUTCOMES, type LoadedCapsule, type SessionContext, type ActivationLimits, type Delivery, type SendRecord, type ActivationResult, type Outcome} from './instance.js';
export {kvProjection, kvKey, type KvState} from './kv.js';
export {CapsuleStore, checkPackage, installedProjection, STORE_DIR, type InstalledCapsule, type InstalledState, type Instrumenter} from './store.js';
export {performFsWrite} from './services.js';
export {pack, unpackUntrusted} from './msgpack.js';
export {instrument, METER_VERSION, type InstrumentResult, type InstrumentStats} from './meter.js';
export {buildCapsule, type BuildResult, type BuildProgress, type BuildOptions} from './build.js';
export {scaffoldCapsule} from './scaffold.js';
