/**
 * fs-tool: reads files, lists directories and stats paths for an agent, through the
 * kernel's synchronous fs services. Requests and their answers:
 *
 *   tool.fs.read {path, offset?, len?}  ->  tool.fs.result {ok, op, path, data: bin, bytes} | {ok: false, op, path, code}
 *   tool.fs.list {path}                 ->  tool.fs.result {ok, op, path, data: [{name, type}], truncated} | {..., code}
 *   tool.fs.stat {path}                 ->  tool.fs.result {ok, op, path, data: {type, size, mtime}} | {..., code}
 *
 * The answer keeps the request's corr. What is reachable is decided by the kernel (the
 * manifest's fs_read bound, narrowed by the session's grant, after resolving symlinks);
 * this capsule only reports the code it got ("DENIED", "NOT_FOUND", ...). A result must fit
 * one 64 KiB message, so reads return at most 48 KiB (ask again with `offset`) and long
 * listings are cut short with `truncated: true`.
 */
import {Message, MsgValue, Decoder, Reply, onMessage, send, fsRead, fsListRaw, fsStat, errorName, log, LOG_WARN, INVALID, INTERNAL} from "astrid-sdk";
export {astrid_alloc, astrid_handle} from "astrid-sdk";

const PREFIX = "tool.fs.";
const RESULT_TOPIC = "tool.fs.result";
/** Most bytes returned by one read. */
const MAX_READ: i64 = 48 * 1024;
/** Rough budget for the entries of one listing. */
const MAX_LIST_BYTES: i32 = 48 * 1024;

function answer(msg: Message, out: MsgValue): i32 {
  const seq = send(RESULT_TOPIC, out, msg.corr);
  if (seq < 0) {
    log(LOG_WARN, "fs-tool: could not send the result: " + errorName(seq));
    return 1;
  }
  return 0;
}

function base(ok: bool, op: string, path: string): MsgValue {
  return MsgValue.newMap().setBool("ok", ok).setString("op", op).setString("path", path);
}

function refuse(msg: Message, op: string, path: string, code: i32): i32 {
  return answer(msg, base(false, op, path).setString("code", errorName(code)));
}

/** A non-negative integer field, `dflt` when absent, -1 when present but not one. */
function uintField(p: MsgValue, key: string, dflt: i64): i64 {
  const v = p.get(key);
  if (v.isNil()) return dflt;
  return v.isIntegerIn(0, i64.MAX_VALUE) ? v.asI64() : -1;
}

function read(msg: Message, path: string): i32 {
  const offset = uintField(msg.payload, "offset", 0);
  let len = uintField(msg.payload, "len", MAX_READ);
  if (offset < 0 || len < 0) return refuse(msg, "read", path, INVALID);
  if (len > MAX_READ) len = MAX_READ;
  const r = fsRead(path, offset, len);
  if (!r.ok) return refuse(msg, "read", path, r.code);
  const data = r.bytes();
  return answer(msg, base(true, "read", path).setBytes("data", data).setI64("bytes", <i64>data.length));
}

function list(msg: Message, path: string): i32 {
  // Read the reply entry by entry and stop once the result is full: a huge directory then
  // costs no more fuel than a full result.
  const r = fsListRaw(path);
  if (r.code < 0) return refuse(msg, "list", path, r.code);
  const d = new Decoder(r.bytes);
  const n = d.readArrayHeader();
  if (n < 0) return refuse(msg, "list", path, INTERNAL);
  const entries = MsgValue.newArray();
  let size = 0;
  let truncated = false;
  for (let i: i64 = 0; i < n; i++) {
    const it = d.read();
    if (it === null) return refuse(msg, "list", path, INTERNAL);
    size += it.get("name").length + 24;
    if (size > MAX_LIST_BYTES) {
      truncated = true;
      break;
    }
    entries.push(it);
  }
  return answer(msg, base(true, "list", path).set("data", entries).setBool("truncated", truncated));
}

function stat(msg: Message, path: string): i32 {
  const r: Reply = fsStat(path);
  if (!r.ok) return refuse(msg, "stat", path, r.code);
  return answer(msg, base(true, "stat", path).set("data", r.value));
}

function handle(msg: Message): i32 {
  if (msg.topic == RESULT_TOPIC || !msg.topic.startsWith(PREFIX)) return 0;
  const op = msg.topic.substring(PREFIX.length);
  const p = msg.payload.get("path");
  if (!p.isString()) return refuse(msg, op, "", INVALID);
  const path = p.asString();
  if (op == "read") return read(msg, path);
  if (op == "list") return list(msg, path);
  if (op == "stat") return stat(msg, path);
  return refuse(msg, op, path, INVALID);
}

onMessage(handle);
