/**
 * kv-notes: a notebook kept in the capsule's KV namespace "notes" (which lives only in the
 * ledger). Requests and their answers, on notes.result with the request's corr:
 *
 *   notes.add {text}      ->  {ok, op: "add", key}
 *   notes.get {key}       ->  {ok, op: "get", key, text}
 *   notes.delete {key}    ->  {ok, op: "delete", key}
 *   notes.list {limit?}   ->  {ok, op: "list", notes: [{key, text}], truncated}
 *   any failure           ->  {ok: false, op, code}   (code: "INVALID", "NOT_FOUND", "DENIED", ...)
 *
 * Keys are "note/" and a zero-padded counter kept under "meta/next", so they sort in the
 * order the notes were added and two notes never share a key (no clock needed).
 */
import {Message, MsgValue, onMessage, send, kvGet, kvSet, kvDelete, kvList, utf8, fromUtf8, errorName, log, LOG_WARN, INVALID, NOT_FOUND, INTERNAL} from "astrid-sdk";
export {astrid_alloc, astrid_handle} from "astrid-sdk";

const NS = "notes";
const RESULT_TOPIC = "notes.result";
const COUNTER_KEY = "meta/next";
const NOTE_PREFIX = "note/";
const MAX_TEXT_BYTES: i32 = 4096;
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/** Rough budget for the notes of one list result (a message is at most 64 KiB). */
const MAX_LIST_BYTES: i32 = 48 * 1024;

function answer(msg: Message, out: MsgValue): i32 {
  const seq = send(RESULT_TOPIC, out, msg.corr);
  if (seq < 0) {
    log(LOG_WARN, "kv-notes: could not send the result: " + errorName(seq));
    return 1;
  }
  return 0;
}

function ok(op: string): MsgValue {
  return MsgValue.newMap().setBool("ok", true).setString("op", op);
}

function refuse(msg: Message, op: string, code: i32): i32 {
  return answer(msg, MsgValue.newMap().setBool("ok", false).setString("op", op).setString("code", errorName(code)));
}

function pad(n: u64): string {
  let s = n.toString();
  while (s.length < 12) s = "0" + s;
  return s;
}

/** The next counter value, or a negative error code. */
function nextNumber(): i64 {
  const r = kvGet(NS, COUNTER_KEY);
  if (r.code == NOT_FOUND) return 0;
  if (!r.ok) return <i64>r.code;
  const text = fromUtf8(r.bytes());
  const n = I64.parseInt(text, 10);
  return n >= 0 && n.toString() == text ? n : <i64>INTERNAL;
}

function add(msg: Message): i32 {
  const t = msg.payload.get("text");
  if (!t.isString()) return refuse(msg, "add", INVALID);
  const bytes = utf8(t.asString());
  if (bytes.length == 0 || bytes.length > MAX_TEXT_BYTES) return refuse(msg, "add", INVALID);
  const n = nextNumber();
  if (n < 0) return refuse(msg, "add", <i32>n);
  const key = NOTE_PREFIX + pad(<u64>n);
  let code = kvSet(NS, COUNTER_KEY, utf8((n + 1).toString()));
  if (code < 0) return refuse(msg, "add", code);
  code = kvSet(NS, key, bytes);
  if (code < 0) return refuse(msg, "add", code);
  return answer(msg, ok("add").setString("key", key));
}

/** The key field of a request, or null when it is not a note key. */
function noteKey(msg: Message): string | null {
  const k = msg.payload.get("key");
  if (!k.isString()) return null;
  const key = k.asString();
  return key.startsWith(NOTE_PREFIX) && key.length > NOTE_PREFIX.length ? key : null;
}

function get(msg: Message): i32 {
  const key = noteKey(msg);
  if (key === null) return refuse(msg, "get", INVALID);
  const r = kvGet(NS, key);
  if (!r.ok) return refuse(msg, "get", r.code);
  return answer(msg, ok("get").setString("key", key).setString("text", fromUtf8(r.bytes())));
}

function remove(msg: Message): i32 {
  const key = noteKey(msg);
  if (key === null) return refuse(msg, "delete", INVALID);
  const code = kvDelete(NS, key);
  if (code < 0) return refuse(msg, "delete", code);
  return answer(msg, ok("delete").setString("key", key));
}

function list(msg: Message): i32 {
  const l = msg.payload.get("limit");
  let limit = DEFAULT_LIMIT;
  if (!l.isNil()) {
    if (!l.isIntegerIn(1, MAX_LIMIT)) return refuse(msg, "list", INVALID);
    limit = l.asI64();
  }
  const r = kvList(NS, NOTE_PREFIX, <i32>limit);
  if (!r.ok) return refuse(msg, "list", r.code);
  const keys = r.strings();
  const notes = MsgValue.newArray();
  let size = 0;
  let truncated = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = kvGet(NS, key);
    if (v.code == NOT_FOUND) continue;
    if (!v.ok) return refuse(msg, "list", v.code);
    const text = v.bytes();
    size += text.length + key.length + 16;
    if (size > MAX_LIST_BYTES) {
      truncated = true;
      break;
    }
    notes.push(MsgValue.newMap().setString("key", key).setString("text", fromUtf8(text)));
  }
  return answer(msg, ok("list").set("notes", notes).setBool("truncated", truncated));
}

function handle(msg: Message): i32 {
  const topic = msg.topic;
  if (topic == RESULT_TOPIC) return 0;
  if (topic == "notes.add") return add(msg);
  if (topic == "notes.get") return get(msg);
  if (topic == "notes.delete") return remove(msg);
  if (topic == "notes.list") return list(msg);
  return refuse(msg, topic.startsWith("notes.") ? topic.substring(6) : topic, INVALID);
}

onMessage(handle);
