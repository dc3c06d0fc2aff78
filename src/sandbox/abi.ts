/**
 * Host ABI v1, as data: the import table a capsule may use, the exports it must provide,
 * the error codes returned to the guest, and the limits. docs/abi.md is the normative text;
 * this file must agree with it.
 */
import {VALTYPE} from './wasm-inspect.js';

export const ABI_MODULE = 'astrid';

const {i32, i64} = VALTYPE;

/** The imports a capsule may declare, with their exact signatures. */
export const ABI_IMPORTS: Readonly<Record<string, {readonly params: readonly number[]; readonly results: readonly number[]}>> = Object.freeze({
  send: {params: [i32, i32], results: [i64]},
  call: {params: [i32, i32], results: [i64]},
  reply: {params: [i32], results: []},
  log: {params: [i32, i32, i32], results: []},
});

/** Required exports (`astrid_init` is optional). */
export const REQUIRED_EXPORTS = Object.freeze({
  memory: 'memory',
  astrid_alloc: 'func',
  astrid_handle: 'func',
} as const);
export const OPTIONAL_EXPORTS = Object.freeze({astrid_init: 'func'} as const);

/** Negative results returned to the guest by `send` and `call`. A closed table. */
export const ABI_ERRORS = Object.freeze({
  DENIED: -1,
  INVALID: -2,
  TOO_LARGE: -3,
  QUOTA: -4,
  NOT_FOUND: -5,
  WOULD_BLOCK: -6,
  NO_REPLY: -7,
  UNAVAILABLE: -8,
  INTERNAL: -9,
} as const);
export type AbiErrorName = keyof typeof ABI_ERRORS;

/** Limits of ABI v1. */
export const ABI_LIMITS = Object.freeze({
  /** Largest message a guest may pass to `send` or `call`, or receive in `astrid_handle`. */
  maxMessageBytes: 64 * 1024,
  /** Largest reply to a `call`. */
  maxReplyBytes: 1024 * 1024,
  /** Host calls (`send` + `call` + `log`) per activation. */
  maxCallsPerActivation: 1024,
  /** Largest log line. */
  maxLogBytes: 4 * 1024,
});

/** Log levels accepted by `log`. */
export const LOG_LEVELS = Object.freeze(['trace', 'debug', 'info', 'warn', 'error'] as const);

/** Import module of the runtime hooks the instrumentation adds (never visible to capsule authors). */
export const RT_MODULE = 'astrid_rt';
/** Exported mutable i64 global holding the remaining fuel (added by the instrumentation). */
export const FUEL_EXPORT = 'astrid_fuel';
