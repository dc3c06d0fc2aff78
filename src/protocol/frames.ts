/**
 * The uplink wire format: each frame is a 4-byte big-endian length, then that many bytes of
 * msgpack. Frames come from untrusted peers: the decoder never buffers more than one frame
 * (a length over the maximum is refused as soon as its 4 bytes arrive, before any body is
 * read), decodes with msgpack extensions that build reference graphs turned off, and
 * refuses anything that is not exactly one message of the closed union in messages.ts.
 * A refusal is a ProtocolError with a stable code; the connection that sent it is closed
 * by the caller (and only that one).
 */
import {AstridError} from '../errors/index.js';
import {decodePlainMsgpack, isPlainMsgpack, packMsgpack} from '../ledger/index.js';
import {parseMessage, type UplinkMessage} from './messages.js';

export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
const HEADER = 4;


/**
 * Encode one message as a frame.
 * @throws AstridError PROTOCOL_FRAME_TOO_LARGE when it would exceed `max`, PROTOCOL_MALFORMED when a
 *   value has no standard msgpack type.
 */
export function encodeFrame(m: UplinkMessage, max = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const body = packMsgpack(m);
  if (!isPlainMsgpack(body)) throw new AstridError('PROTOCOL_MALFORMED', 'the message holds a value with no standard msgpack type (e.g. undefined)');
  if (body.length > max) throw new AstridError('PROTOCOL_FRAME_TOO_LARGE', `frame of ${body.length} bytes over the limit of ${max}`);
  const out = new Uint8Array(HEADER + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, HEADER);
  return out;
}

/** Streaming decoder for one connection. */
export class FrameDecoder {
  readonly #max: number;
  #buf: Uint8Array = new Uint8Array(0);
  #dead: AstridError | undefined;

  constructor(max = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isSafeInteger(max) || max < 1 || max > 64 * 1024 * 1024) throw new RangeError('max must be 1 byte to 64 MiB');
    this.#max = max;
  }

  /** Bytes held waiting for the rest of a frame (never more than one frame's worth). */
  get buffered(): number {
    return this.#buf.length;
  }

  /**
   * Feed bytes; returns the messages completed by them, in order.
   * @throws AstridError PROTOCOL_FRAME_TOO_LARGE, PROTOCOL_MALFORMED (and every later call
   *   throws the same: a stream that went wrong once cannot be trusted to be in sync).
   */
  push(chunk: Uint8Array): UplinkMessage[] {
    if (this.#dead !== undefined) throw this.#dead;
    if (!(chunk instanceof Uint8Array)) throw new TypeError('chunk must be bytes');
    let buf = this.#buf.length === 0 ? chunk : concat(this.#buf, chunk);
    const out: UplinkMessage[] = [];
    try {
      for (;;) {
        if (buf.length < HEADER) break;
        const len = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0);
        if (len > this.#max) throw new AstridError('PROTOCOL_FRAME_TOO_LARGE', `frame of ${len} bytes announced, over the limit of ${this.#max}`);
        if (len === 0) throw new AstridError('PROTOCOL_MALFORMED', 'empty frame');
        if (buf.length < HEADER + len) break;
        out.push(decodeBody(buf.slice(HEADER, HEADER + len))); // a copy: decoded binaries must not alias the caller's chunk
        buf = buf.subarray(HEADER + len);
      }
    } catch (e) {
      this.#dead = e instanceof AstridError ? e : new AstridError('PROTOCOL_MALFORMED', String(e));
      this.#buf = new Uint8Array(0);
      throw this.#dead;
    }
    this.#buf = buf.length === 0 ? new Uint8Array(0) : new Uint8Array(buf); // copy: do not pin the caller's chunk
    return out;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function decodeBody(body: Uint8Array): UplinkMessage {
  // Exactly one value of the standard msgpack types, checked by a bounded scan before msgpackr
  // sees it: no extension types at all (msgpackr's own extensions can loop or build graphs
  // on hostile input), no repeated keys, no trailing bytes, bounded depth.
  const d = decodePlainMsgpack(body);
  if ('problem' in d) throw new AstridError('PROTOCOL_MALFORMED', `frame: ${d.problem}`);
  const m = parseMessage(d.value);
  if (typeof m === 'string') throw new AstridError('PROTOCOL_MALFORMED', m);
  return m;
}
