/**
 * The capsule's side of an activation: the `astrid_alloc` and `astrid_handle` exports, the
 * handler registration, and the replacements for AssemblyScript's `abort`, `trace` and
 * `seed` (which would otherwise be imported from `env`, which the kernel refuses).
 *
 * `astrid_init` (the module's top-level code, exported with `--exportStart`) initialises the
 * AssemblyScript runtime itself: the kernel must call it before any other export.
 *
 * Memory: the SDK is built with `--runtime minimal` (TLSF allocator and a mark-and-sweep
 * collector that runs only when called). `astrid_handle` runs a full collection after the
 * handler returns, when no managed object lives on the wasm stack: so nothing the handler
 * keeps in globals is ever freed under it, and garbage never outlives the activation.
 */
import {log, LOG_DEBUG, LOG_ERROR} from "./abi";
import {Message, parseError, parseMessage} from "./message";

/** A message handler: return 0 for success, anything else is an application error. */
export type Handler = (msg: Message) => i32;

/** `astrid_handle` result when no handler was registered (was `astrid_init` called?). */
export const HANDLE_NO_HANDLER: i32 = 0x7a01;
/** `astrid_handle` result when the delivered bytes are not a conforming message. */
export const HANDLE_BAD_MESSAGE: i32 = 0x7a02;

let handler: Handler | null = null;
let pending: Array<usize> = new Array<usize>(0);

/**
 * Register the message handler. Call it at the top level of `assembly/index.ts`: top-level
 * code runs in `astrid_init`, which the kernel calls once after instantiation.
 */
export function onMessage(h: Handler): void {
  handler = h;
}

/** Export: return `len` writable bytes for the kernel's input (0 for a negative `len`). */
export function astrid_alloc(len: i32): usize {
  if (len < 0) return 0;
  const ptr = heap.alloc(<usize>len);
  pending.push(ptr);
  return ptr;
}

function release(ptr: usize): void {
  const i = pending.indexOf(ptr);
  if (i >= 0) {
    pending.splice(i, 1);
    heap.free(ptr);
  }
}

/** Export: decode the message at `ptr..ptr+len`, run the handler, free what it left. */
export function astrid_handle(ptr: usize, len: i32): i32 {
  const msg = parseMessage(ptr, len);
  release(ptr);
  let result: i32;
  if (msg === null) {
    log(LOG_ERROR, "astrid-sdk: refused a delivered message: " + parseError);
    result = HANDLE_BAD_MESSAGE;
  } else {
    const h = handler;
    if (h === null) {
      log(LOG_ERROR, "astrid-sdk: no handler registered (call onMessage at top level; the kernel must call astrid_init)");
      result = HANDLE_NO_HANDLER;
    } else {
      result = h(msg);
    }
  }
  __collect();
  return result;
}

/**
 * Replaces AssemblyScript's `abort` (`--use abort=...`): log the reason, then trap. A
 * failed assertion, a thrown Error or an out-of-bounds index ends the activation as a trap.
 */
export function astridAbort(message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0): void {
  // a static flag, not a global: abort may run before any global initialiser has
  const aborting = abortFlag();
  if (load<u8>(aborting) == 0) {
    store<u8>(aborting, 1);
    let text = "abort: " + (message === null ? "(no message)" : message);
    if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
    log(LOG_ERROR, text);
  }
  unreachable();
}

function abortFlag(): usize {
  return memory.data(1);
}

/** Replaces AssemblyScript's `trace` (`--use trace=...`): a debug log line. */
export function astridTrace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let text = message;
  if (n > 0) text += " " + a0.toString();
  if (n > 1) text += " " + a1.toString();
  if (n > 2) text += " " + a2.toString();
  if (n > 3) text += " " + a3.toString();
  if (n > 4) text += " " + a4.toString();
  log(LOG_DEBUG, text);
}

/**
 * Replaces AssemblyScript's `seed` (`--use seed=...`), which only `Math.random` uses.
 * Capsules are deterministic: use `randomBytes(n)`, whose result is recorded.
 */
export function astridSeed(): f64 {
  abort("Math.random is not available in capsules: use randomBytes(n) from astrid-sdk");
  return 0;
}
