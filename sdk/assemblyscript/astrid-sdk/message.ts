/**
 * A delivered message: the msgpack map `{topic, payload, from, seq, session, corr?}` that
 * the kernel writes into guest memory before calling `astrid_handle` (docs/abi.md).
 * Parsed strictly: a missing or mistyped field refuses the whole message.
 */
import {Decoder} from "./decoder";
import {Kind, MsgValue} from "./value";

/** One message delivered to the capsule. */
export class Message {
  constructor(
    /** The concrete topic it was published on. */
    public topic: string,
    /** Any msgpack value. */
    public payload: MsgValue,
    /** The sender (a capsule or principal id). */
    public from: string,
    /** Its ledger sequence number. */
    public seq: u64,
    /** The session it belongs to. */
    public session: string,
    /** Correlation id; null when the sender gave none. */
    public corr: string | null,
  ) {}
}

/** Why the last `parseMessage` failed. */
export let parseError: string = "";

function refuse(why: string): Message | null {
  parseError = why;
  return null;
}

/** Is `v` absent? (nil, or msgpackr's encoding of `undefined`: fixext 1 of type 0.) */
function absent(v: MsgValue): bool {
  if (v.kind == Kind.Nil) return true;
  return v.kind == Kind.Ext && v.extType() == 0 && v.length == 1 && v.asBytes()[0] == 0;
}

/** Decode and check a delivered message; null (with `parseError`) when it does not conform. */
export function parseMessage(ptr: usize, len: i32): Message | null {
  const d = Decoder.fromMemory(ptr, len);
  const v = d.readAll();
  if (v === null) return refuse("not msgpack: " + d.error!);
  if (!v.isMap()) return refuse("not a map");
  const topic = v.get("topic");
  if (!topic.isString()) return refuse("topic: must be a string");
  if (!v.has("payload")) return refuse("payload: missing");
  const from = v.get("from");
  if (!from.isString()) return refuse("from: must be a string");
  const seq = v.get("seq");
  if (!seq.isIntegerIn(0, i64.MAX_VALUE) && seq.kind != Kind.Uint) return refuse("seq: must be an unsigned integer");
  const session = v.get("session");
  if (!session.isString()) return refuse("session: must be a string");
  const corrV = v.get("corr");
  let corr: string | null = null;
  if (!absent(corrV)) {
    if (!corrV.isString()) return refuse("corr: must be a string");
    corr = corrV.asString();
  }
  return new Message(topic.asString(), v.get("payload"), from.asString(), seq.asU64(), session.asString(), corr);
}
