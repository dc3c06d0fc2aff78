/**
 * The one msgpack configuration the kernel writes with (plain maps, no records, no extra
 * types) and reads with (numbers for 64-bit integers, no reference graphs), and the one way
 * to decode bytes from outside: exactly one value of the standard msgpack types, checked by
 * isPlainMsgpack's bounded scan before msgpackr sees them.
 */
import {Packr, Unpackr} from 'msgpackr';
import {isPlainMsgpack} from './codec.js';

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const unpackr = new Unpackr({useRecords: false, mapsAsObjects: true, int64AsType: 'number', structuredClone: false});

/** Encode a value (projection states, message payloads, frames). */
export function packMsgpack(v: unknown): Uint8Array {
  return packr.pack(v);
}

/** Decode bytes the kernel wrote itself. @throws Error when they are not msgpack. */
export function unpackMsgpack(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes) as unknown;
}

/** Decode untrusted bytes: one plain msgpack value, or the problem. Never throws. */
export function decodePlainMsgpack(bytes: Uint8Array): {readonly value: unknown} | {readonly problem: string} {
  if (!isPlainMsgpack(bytes)) return {problem: 'not exactly one plain msgpack value (no extension types, repeated keys or trailing bytes)'};
  try {
    return {value: unpackr.unpack(bytes) as unknown};
  } catch (e) {
    return {problem: `not msgpack: ${String((e as Error)?.message ?? e).slice(0, 120)}`};
  }
}
