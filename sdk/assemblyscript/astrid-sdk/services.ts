/**
 * Reaching the world: `send` (publish a message; services with an outside effect) and
 * `call` (synchronous local services), with a typed helper for every v1 service in
 * docs/abi.md. Failures are the ABI's negative error codes, never traps.
 */
import {host, INTERNAL, MAX_MESSAGE_BYTES, MAX_REPLY_BYTES, TOO_LARGE} from "./abi";
import {Decoder} from "./decoder";
import {Encoder} from "./encoder";
import {MsgValue} from "./value";
import {Message} from "./message";

/** The outcome of a `call`: `code` 0 with a `value`, or a negative error code and nil. */
export class Reply {
  constructor(public code: i32, public value: MsgValue) {}

  /** True when the call succeeded. */
  get ok(): bool {
    return this.code >= 0;
  }
  /** The value as bytes (a `bin` reply); empty when the call failed or the reply is not bin. */
  bytes(): Uint8Array {
    return this.ok && this.value.isBytes() ? this.value.asBytes() : new Uint8Array(0);
  }
  /** The value as a list of strings (e.g. `kv.list`); non-strings are skipped. */
  strings(): Array<string> {
    const out = new Array<string>(0);
    if (!this.ok || !this.value.isArray()) return out;
    const items = this.value.asArray();
    for (let i = 0; i < items.length; i++) {
      const it = unchecked(items[i]);
      if (it.isString()) out.push(it.asString());
    }
    return out;
  }
}

function failed(code: i32): Reply {
  return new Reply(code, MsgValue.nil());
}

/** Publish already-encoded message bytes (`{topic, payload, corr?}`). Seq (> 0) or an error. */
export function sendRaw(bytes: Uint8Array): i64 {
  if (bytes.length > MAX_MESSAGE_BYTES) return <i64>TOO_LARGE;
  return host.send(bytes.dataStart, bytes.length);
}

/**
 * Publish `{topic, payload, corr?}`. Returns the message's ledger seq (> 0) or a negative
 * error (DENIED when the topic is not in the manifest's `sends` or not granted, TOO_LARGE
 * over 64 KiB, ...). Asynchronous: any answer arrives later as a message.
 */
export function send(topic: string, payload: MsgValue, corr: string | null = null): i64 {
  const e = new Encoder(64);
  e.writeMapHeader(corr === null ? 2 : 3);
  e.writeString("topic").writeString(topic);
  e.writeString("payload").writeValue(payload);
  if (corr !== null) e.writeString("corr").writeString(corr);
  if (e.length > MAX_MESSAGE_BYTES) return <i64>TOO_LARGE;
  return host.send(e.dataStart, e.length);
}

/** Answer `msg`: `send(topic, payload, msg.corr)`. */
export function respond(msg: Message, topic: string, payload: MsgValue): i64 {
  return send(topic, payload, msg.corr);
}

/** The undecoded outcome of a `call`: `code` 0 with the reply's msgpack `bytes`, or a negative error and no bytes. */
export class RawReply {
  constructor(public code: i32, public bytes: Uint8Array) {}
}

/**
 * A synchronous request `{op, args}`, with the reply left as msgpack bytes: for large replies
 * (a long `fs.list`) that a capsule reads item by item with a `Decoder` and stops early.
 */
export function callRaw(op: string, args: MsgValue): RawReply {
  const e = new Encoder(64);
  e.writeMapHeader(2);
  e.writeString("op").writeString(op);
  e.writeString("args").writeValue(args);
  if (e.length > MAX_MESSAGE_BYTES) return new RawReply(TOO_LARGE, new Uint8Array(0));
  const n = host.call(e.dataStart, e.length);
  if (n < 0) return new RawReply(n < <i64>i32.MIN_VALUE ? INTERNAL : <i32>n, new Uint8Array(0));
  if (n > <i64>MAX_REPLY_BYTES) return new RawReply(TOO_LARGE, new Uint8Array(0));
  const buf = new Uint8Array(<i32>n);
  host.reply(buf.dataStart);
  return new RawReply(0, buf);
}

/**
 * A synchronous request `{op, args}` to a local service. The reply is decoded; a reply that
 * is not valid msgpack is reported as INTERNAL (the kernel's fault, not the capsule's).
 */
export function call(op: string, args: MsgValue): Reply {
  const raw = callRaw(op, args);
  if (raw.code < 0) return failed(raw.code);
  const v = new Decoder(raw.bytes).readAll();
  if (v === null) return failed(INTERNAL);
  return new Reply(0, v);
}

/** `clock.now`: milliseconds since the Unix epoch (recorded), or a negative error. */
export function clockNow(): i64 {
  const r = call("clock.now", MsgValue.newMap());
  if (!r.ok) return <i64>r.code;
  const ms = r.value.get("ms");
  if (!ms.isIntegerIn(0, i64.MAX_VALUE)) return <i64>INTERNAL;
  return ms.asI64();
}

/** `random.bytes`: `n` (at most 1024) random bytes (recorded); `Reply.bytes()`. */
export function randomBytes(n: i32): Reply {
  return call("random.bytes", MsgValue.newMap().setI64("n", <i64>n));
}

/** `kv.get`: the value under `key` in namespace `ns` (`Reply.bytes()`); NOT_FOUND when absent. */
export function kvGet(ns: string, key: string): Reply {
  return call("kv.get", MsgValue.newMap().setString("ns", ns).setString("key", key));
}

/** `kv.set`: store `value` (at most 64 KiB). 0 or a negative error. */
export function kvSet(ns: string, key: string, value: Uint8Array): i32 {
  return call("kv.set", MsgValue.newMap().setString("ns", ns).setString("key", key).setBytes("value", value)).code;
}

/** `kv.delete`: remove `key`. 0 or a negative error. */
export function kvDelete(ns: string, key: string): i32 {
  return call("kv.delete", MsgValue.newMap().setString("ns", ns).setString("key", key)).code;
}

/**
 * `kv.list`: keys of `ns`, optionally only those starting with `prefix`, at most `limit`
 * (<= 1000; 0 leaves it to the kernel). `Reply.strings()`.
 */
export function kvList(ns: string, prefix: string | null = null, limit: i32 = 0): Reply {
  const args = MsgValue.newMap().setString("ns", ns);
  if (prefix !== null) args.setString("prefix", prefix);
  if (limit > 0) args.setI64("limit", <i64>limit);
  return call("kv.list", args);
}

/**
 * `fs.read`: bytes of the file at the absolute `path` (`Reply.bytes()`), from `offset`, at
 * most `len` (<= 1 MiB); a negative offset or len leaves it to the kernel.
 */
export function fsRead(path: string, offset: i64 = -1, len: i64 = -1): Reply {
  const args = MsgValue.newMap().setString("path", path);
  if (offset >= 0) args.setI64("offset", offset);
  if (len >= 0) args.setI64("len", len);
  return call("fs.read", args);
}

/**
 * `fs.list`: `[{name, type: "file"|"dir"|"other"}]` for the directory at `path`. A large
 * directory gives a large reply (up to 1 MiB): see `fsListRaw` to read only part of it.
 */
export function fsList(path: string): Reply {
  return call("fs.list", MsgValue.newMap().setString("path", path));
}

/** `fs.list` with the reply undecoded: `Decoder.readArrayHeader()`, then `read()` each entry. */
export function fsListRaw(path: string): RawReply {
  return callRaw("fs.list", MsgValue.newMap().setString("path", path));
}

/** `fs.stat`: `{type, size, mtime}` for `path`. */
export function fsStat(path: string): Reply {
  return call("fs.stat", MsgValue.newMap().setString("path", path));
}

/**
 * Write a file: a message to `svc.fs.write` (an outside effect, so it is asynchronous). The
 * answer arrives as `svc.fs.write.result` `{ok, code?, path, bytes?}` with the same `corr`;
 * the manifest must list `svc.fs.write` in `sends` and handle `svc.fs.write.result`.
 * Returns the request's seq (> 0) or a negative error.
 */
export function fsWrite(path: string, data: Uint8Array, corr: string | null = null): i64 {
  return send("svc.fs.write", MsgValue.newMap().setString("path", path).setBytes("data", data), corr);
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE));
}

/** A string from UTF-8 bytes. */
export function fromUtf8(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.length);
}
