/**
 * The one topic grammar and matcher (DESIGN.md, Bus). Used by the bus, capsule manifests,
 * grants and interceptors alike, so a wildcard means the same thing everywhere.
 *
 *   topic    = segment *("." segment)           at most 8 segments, at most 256 bytes
 *   segment  = [a-z0-9] [a-z0-9_-]*              lowercase
 *   pattern  = like a topic, where a segment may be "*" (exactly one segment),
 *              and the last segment may be ">" (one or more segments)
 * The NATS convention, so the bus can later span hosts on NATS unchanged.
 */

export const MAX_TOPIC_BYTES = 256;
export const MAX_TOPIC_SEGMENTS = 8;
const SEGMENT_RE = /^[a-z0-9][a-z0-9_-]*$/;

declare const topicBrand: unique symbol;
declare const patternBrand: unique symbol;
/** A concrete topic (no wildcards). */
export type Topic = string & {readonly [topicBrand]: true};
/** A topic pattern (may contain `*` and a trailing `>`). */
export type TopicPattern = string & {readonly [patternBrand]: true};

function segmentsOf(s: unknown, what: string): string[] {
  if (typeof s !== 'string') throw new TypeError(`${what} must be a string`);
  if (s.length === 0 || Buffer.byteLength(s, 'utf8') > MAX_TOPIC_BYTES) throw new TypeError(`${what} must be 1 to ${MAX_TOPIC_BYTES} bytes`);
  const segs = s.split('.');
  if (segs.length > MAX_TOPIC_SEGMENTS) throw new TypeError(`${what} has more than ${MAX_TOPIC_SEGMENTS} segments`);
  return segs;
}

/** @throws TypeError when `s` is not a valid concrete topic. */
export function parseTopic(s: unknown): Topic {
  const segs = segmentsOf(s, 'topic');
  for (const seg of segs) if (!SEGMENT_RE.test(seg)) throw new TypeError(`topic segment ${JSON.stringify(seg)} is invalid`);
  return s as Topic;
}

/** @throws TypeError when `s` is not a valid pattern. */
export function parsePattern(s: unknown): TopicPattern {
  const segs = segmentsOf(s, 'topic pattern');
  segs.forEach((seg, i) => {
    if (seg === '*') return;
    if (seg === '>') {
      if (i !== segs.length - 1) throw new TypeError('">" may only be the last segment of a pattern');
      return;
    }
    if (!SEGMENT_RE.test(seg)) throw new TypeError(`pattern segment ${JSON.stringify(seg)} is invalid`);
  });
  return s as TopicPattern;
}

/** True when `s` is a valid topic. */
export function isTopic(s: unknown): s is Topic {
  try {
    parseTopic(s);
    return true;
  } catch {
    return false;
  }
}

/** True when `s` is a valid pattern. */
export function isPattern(s: unknown): s is TopicPattern {
  try {
    parsePattern(s);
    return true;
  } catch {
    return false;
  }
}

/** Does `pattern` match the concrete `topic`? */
export function matches(pattern: TopicPattern, topic: Topic): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    const seg = p[i] as string;
    if (seg === '>') return t.length > i;
    if (i >= t.length) return false;
    if (seg !== '*' && seg !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * Is every topic matched by `inner` also matched by `outer`? Sound: when unsure, false.
 * Used to check that a grant or manifest narrows, never widens.
 */
export function covers(outer: TopicPattern, inner: TopicPattern): boolean {
  const a = outer.split('.');
  const b = inner.split('.');
  const aTail = a[a.length - 1] === '>';
  const bTail = b[b.length - 1] === '>';
  const aFixed = aTail ? a.length - 1 : a.length;
  if (!aTail) {
    if (bTail || b.length !== a.length) return false;
  } else if (b.length < aFixed + 1) {
    return false;
  }
  for (let i = 0; i < aFixed; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (y === '>') return false; // inner reaches shorter topics than outer requires
    if (x === '*') continue;
    if (x !== y) return false;
  }
  return true;
}
