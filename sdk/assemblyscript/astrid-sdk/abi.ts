/**
 * Host ABI v1 (docs/abi.md), guest side: the four imports from module `astrid`, the error
 * codes they return, the log levels and the limits. Nothing else may be imported: the
 * kernel refuses a module with any other import (SANDBOX_IMPORT_DENIED).
 */

// @ts-ignore: decorator
@external("astrid", "send")
declare function astrid_send(ptr: usize, len: i32): i64;

// @ts-ignore: decorator
@external("astrid", "call")
declare function astrid_call(ptr: usize, len: i32): i64;

// @ts-ignore: decorator
@external("astrid", "reply")
declare function astrid_reply(ptr: usize): void;

// @ts-ignore: decorator
@external("astrid", "log")
declare function astrid_log(level: i32, ptr: usize, len: i32): void;

/** Raw imports, for code that encodes its own messages. Prefer `send`, `call` and `log`. */
export namespace host {
  /** Publish the msgpack message at `ptr..ptr+len`. Ledger seq (> 0) or a negative error. */
  export function send(ptr: usize, len: i32): i64 {
    return astrid_send(ptr, len);
  }
  /** Synchronous service request. Reply length (>= 0) or a negative error. */
  export function call(ptr: usize, len: i32): i64 {
    return astrid_call(ptr, len);
  }
  /** Copy the pending reply of the last successful `call` to `ptr`. */
  export function reply(ptr: usize): void {
    astrid_reply(ptr);
  }
  /** Write a UTF-8 log line. */
  export function log(level: i32, ptr: usize, len: i32): void {
    astrid_log(level, ptr, len);
  }
}

// Error codes returned by `send` and `call` (docs/abi.md, "Error codes"). A closed table.
/** The gate refused (not granted, not in the manifest, policy). */
export const DENIED: i32 = -1;
/** Malformed message, bad pointer/length, unknown op, bad arguments. */
export const INVALID: i32 = -2;
/** Message or reply over the limits. */
export const TOO_LARGE: i32 = -3;
/** Too many host calls in this activation, or a budget exhausted. */
export const QUOTA: i32 = -4;
/** No such key or file. */
export const NOT_FOUND: i32 = -5;
/** The service needs an asynchronous answer: use `send`. */
export const WOULD_BLOCK: i32 = -6;
/** `reply` called without a pending reply. */
export const NO_REPLY: i32 = -7;
/** The service is not available in this kernel. */
export const UNAVAILABLE: i32 = -8;
/** The kernel failed; the capsule is not at fault. */
export const INTERNAL: i32 = -9;

/** The ABI name of an error code ("DENIED", ...), "OK" for >= 0, "UNKNOWN" otherwise. */
export function errorName(code: i64): string {
  if (code >= 0) return "OK";
  switch (<i32>code) {
    case DENIED: return "DENIED";
    case INVALID: return "INVALID";
    case TOO_LARGE: return "TOO_LARGE";
    case QUOTA: return "QUOTA";
    case NOT_FOUND: return "NOT_FOUND";
    case WOULD_BLOCK: return "WOULD_BLOCK";
    case NO_REPLY: return "NO_REPLY";
    case UNAVAILABLE: return "UNAVAILABLE";
    case INTERNAL: return "INTERNAL";
    default: return "UNKNOWN";
  }
}

// Log levels accepted by `log`.
export const LOG_TRACE: i32 = 0;
export const LOG_DEBUG: i32 = 1;
export const LOG_INFO: i32 = 2;
export const LOG_WARN: i32 = 3;
export const LOG_ERROR: i32 = 4;

// Limits of ABI v1.
/** Largest message given to `send`/`call` or delivered to `astrid_handle`. */
export const MAX_MESSAGE_BYTES: i32 = 64 * 1024;
/** Largest reply to a `call`. */
export const MAX_REPLY_BYTES: i32 = 1024 * 1024;
/** Host calls (`send` + `call` + `log`) per activation. */
export const MAX_CALLS_PER_ACTIVATION: i32 = 1024;
/** Largest log line. */
export const MAX_LOG_BYTES: i32 = 4 * 1024;

/**
 * Write one log line (UTF-8, truncated to MAX_LOG_BYTES on a character boundary).
 * Levels: LOG_TRACE 0, LOG_DEBUG 1, LOG_INFO 2, LOG_WARN 3, LOG_ERROR 4. Each line is a
 * host call and is recorded in the ledger.
 */
export function log(level: i32, text: string): void {
  const buf = String.UTF8.encode(text, false, String.UTF8.ErrorMode.REPLACE);
  let len = buf.byteLength;
  const ptr = changetype<usize>(buf);
  if (len > MAX_LOG_BYTES) {
    len = MAX_LOG_BYTES;
    // back off to the start of a UTF-8 sequence
    while (len > 0 && (load<u8>(ptr + <usize>len) & 0xc0) == 0x80) len--;
  }
  astrid_log(level, ptr, len);
}
