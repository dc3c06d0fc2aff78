/**
 * astrid-sdk: write Astrid capsules in AssemblyScript. A capsule's `assembly/index.ts`:
 *
 *   import {Message, MsgValue, onMessage, send} from "astrid-sdk";
 *   export {astrid_alloc, astrid_handle} from "astrid-sdk";
 *
 *   function handle(msg: Message): i32 {
 *     send("echo.reply", msg.payload, msg.corr);
 *     return 0;
 *   }
 *   onMessage(handle);
 *
 * Build with `astrid capsule build <dir>` (src/sandbox/build.ts), which passes the flags
 * this SDK needs (minimal runtime, abort/trace/seed replaced, start exported as astrid_init).
 */
export {
  host,
  log,
  errorName,
  DENIED,
  INVALID,
  TOO_LARGE,
  QUOTA,
  NOT_FOUND,
  WOULD_BLOCK,
  NO_REPLY,
  UNAVAILABLE,
  INTERNAL,
  LOG_TRACE,
  LOG_DEBUG,
  LOG_INFO,
  LOG_WARN,
  LOG_ERROR,
  MAX_MESSAGE_BYTES,
  MAX_REPLY_BYTES,
  MAX_CALLS_PER_ACTIVATION,
  MAX_LOG_BYTES,
} from "./abi";
export {Kind, MsgValue} from "./value";
export {Encoder, encode} from "./encoder";
export {Decoder, decode, MAX_DEPTH} from "./decoder";
export {Message, parseMessage} from "./message";
export {
  Reply,
  RawReply,
  send,
  sendRaw,
  respond,
  call,
  callRaw,
  clockNow,
  randomBytes,
  kvGet,
  kvSet,
  kvDelete,
  kvList,
  fsRead,
  fsList,
  fsListRaw,
  fsStat,
  fsWrite,
  utf8,
  fromUtf8,
} from "./services";
export {
  Handler,
  onMessage,
  astrid_alloc,
  astrid_handle,
  astridAbort,
  astridTrace,
  astridSeed,
  HANDLE_NO_HANDLER,
  HANDLE_BAD_MESSAGE,
} from "./runtime";
