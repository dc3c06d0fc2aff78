/**
 * The sandbox: capsule packages, module validation, fuel and memory instrumentation,
 * instantiation and the host ABI. Arrives with the sandbox issue; the folder exists so
 * the layout and dependency rules hold.
 */
export const SANDBOX_READY = false as const;
