// Proves the one topic grammar: which topics and patterns parse, what `*` and a trailing `>` match, that `covers` never widens, and that the bus's routing trie answers exactly what `matches` answers, before and after removals.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {covers, isPattern, isTopic, matches, parsePattern, parseTopic, MAX_TOPIC_BYTES, MAX_TOPIC_SEGMENTS, type Topic, type TopicPattern} from '../../src/topics/index.js';
import {RoutingIndex} from '../../src/bus/index.js';

const FC = {seed: 0x70b1c, numRuns: 300} as const;
const segs = (n: number, s = 'a'): string => Array.from({length: n}, () => s).join('.');
const P = (s: string): TopicPattern => parsePattern(s);
const T = (s: string): Topic => parseTopic(s);

// [input, why]: valid as a topic AND as a pattern.
const VALID_TOPICS: ReadonlyArray<readonly [string, string]> = [
  ['a', 'one segment'],
  ['tool.fs.read', 'three segments'],
  ['0', 'a digit alone'],
  ['a-b_c.9x', 'dash and underscore after the first character'],
  ['constructor.hasownproperty', 'names of Object.prototype members'],
  [segs(MAX_TOPIC_SEGMENTS), '8 segments'],
  ['x'.repeat(MAX_TOPIC_BYTES), '256 bytes'],
  [`${'x'.repeat(250)}.b.c.d`, '256 bytes over 4 segments'],
];

// [input, why]: invalid as a topic AND as a pattern.
const INVALID_BOTH: ReadonlyArray<readonly [unknown, string]> = [
  ['', 'empty'],
  ['A', 'uppercase'],
  ['tool.Fs', 'uppercase segment'],
  ['a..b', 'empty middle segment'],
  ['.a', 'empty first segment'],
  ['a.', 'empty last segment'],
  ['.', 'only a dot'],
  [segs(MAX_TOPIC_SEGMENTS + 1), '9 segments'],
  [segs(MAX_TOPIC_SEGMENTS + 1, '*'), '9 wildcard segments'],
  ['x'.repeat(MAX_TOPIC_BYTES + 1), '257 bytes'],
  ['_a', 'leading underscore'],
  ['-a', 'leading dash'],
  ['a b', 'space'],
  [' a', 'leading space'],
  ['a\n', 'trailing newline'],
  ['a\u0000', 'NUL'],
  ['é', 'unicode letter'],
  ['caf\u00e9.x', 'unicode in a segment'],
  ['ｔｏｏｌ', 'fullwidth latin'],
  ['a/b', 'slash'],
  ['a*', '`*` inside a segment'],
  ['*a', '`*` starting a segment'],
  ['**', 'double star'],
  ['a>', '`>` inside a segment'],
  ['>>', 'double `>`'],
  ['>.a', '`>` not last'],
  ['a.>.b', '`>` in the middle'],
  ['>.>', 'two `>`'],
  [42, 'a number'],
  [null, 'null'],
  [undefined, 'undefined'],
  [['a'], 'an array'],
];

// Valid patterns that are not topics.
const PATTERN_ONLY: readonly string[] = ['*', '>', 'a.*', '*.b', 'a.>', '*.>', '*.*.*', `${segs(7)}.>`, segs(MAX_TOPIC_SEGMENTS, '*')];

describe('grammar', () => {
  for (const [s, why] of VALID_TOPICS) {
    it(`valid topic and pattern: ${why}`, () => {
      assert.equal(parseTopic(s), s);
      assert.equal(parsePattern(s), s);
      assert.ok(isTopic(s) && isPattern(s));
    });
  }
  for (const [s, why] of INVALID_BOTH) {
    it(`invalid topic and pattern: ${why}`, () => {
      assert.throws(() => parseTopic(s), TypeError);
      assert.throws(() => parsePattern(s), TypeError);
      assert.ok(!isTopic(s) && !isPattern(s));
    });
  }
  it('wildcards make a pattern, never a topic', () => {
    for (const s of PATTERN_ONLY) {
      assert.equal(parsePattern(s), s, s);
      assert.throws(() => parseTopic(s), TypeError, s);
      assert.ok(isPattern(s) && !isTopic(s), s);
    }
  });
  it('the length limit counts UTF-8 bytes, not characters (129 two-byte characters are 258 bytes)', () => {
    assert.throws(() => parseTopic('é'.repeat(129)), /1 to 256 bytes/);
  });
});

// [pattern, topic, matches?]
const MATCHES: ReadonlyArray<readonly [string, string, boolean]> = [
  ['a', 'a', true],
  ['a', 'b', false],
  ['a.b', 'a.b', true],
  ['a.b', 'a', false],
  ['a', 'a.b', false],
  ['a.b', 'a.b.c', false],
  ['a.b.c', 'a.b', false],
  ['*', 'a', true],
  ['*', 'a.b', false],
  ['a.*', 'a.b', true],
  ['a.*', 'a', false],
  ['a.*', 'a.b.c', false],
  ['*.b', 'x.b', true],
  ['*.b', 'x.c', false],
  ['*.*', 'a.b', true],
  ['*.*', 'a', false],
  ['a.*.c', 'a.zz.c', true],
  ['a.*.c', 'a.zz.d', false],
  ['>', 'a', true],
  ['>', `${segs(8)}`, true],
  ['a.>', 'a', false],
  ['a.>', 'a.b', true],
  ['a.>', 'a.b.c.d', true],
  ['a.>', 'b.c', false],
  ['a.b.>', 'a.b', false],
  ['a.b.>', 'a.b.c', true],
  ['a.b.>', 'a.c.d', false],
  ['*.>', 'a', false],
  ['*.>', 'a.b', true],
  ['*.b.>', 'a.b.c.d', true],
  ['*.b.>', 'a.c.c.d', false],
  ['tool.*', 'tool.fs.read', false],
  ['tool.>', 'tool.fs.read', true],
  ['tool.fs.read', 'tool.fs.read', true],
  ['tool.fs.read', 'tool.fs.reads', false],
  ['tool.fs', 'tool.fsx', false],
];

describe('matches', () => {
  for (const [p, t, want] of MATCHES) {
    it(`${p} ${want ? 'matches' : 'does not match'} ${t}`, () => {
      assert.equal(matches(P(p), T(t)), want);
      const idx = new RoutingIndex<string>();
      idx.add(p, p);
      assert.equal(idx.route(t).has(p), want, 'the routing index agrees');
    });
  }
});

// [outer, inner, covers?]
const COVERS: ReadonlyArray<readonly [string, string, boolean]> = [
  ['a', 'a', true],
  ['a', 'b', false],
  ['a.b', 'a.b', true],
  ['*', 'a', true],
  ['a', '*', false],
  ['*', '*', true],
  ['a.*', 'a.b', true],
  ['a.b', 'a.*', false],
  ['*.*', 'a.*', true],
  ['a.*', '*.*', false],
  ['>', 'a', true],
  ['>', 'a.b.c', true],
  ['>', '*', true],
  ['>', '>', true],
  ['>', '*.>', true],
  ['*.>', '>', false],
  ['a.>', 'a.b', true],
  ['a.>', 'a.b.c', true],
  ['a.>', 'a.*', true],
  ['a.>', 'a.*.>', true],
  ['a.>', 'a.>', true],
  ['a.>', 'a', false],
  ['a.>', '>', false],
  ['a.>', 'b.>', false],
  ['a.>', '*.b', false],
  ['a.*', 'a.>', false],
  ['a.*', 'a.b.c', false],
  ['a.b.>', 'a.>', false],
  ['a.*.>', 'a.>', false],
  ['a.*.>', 'a.b.>', true],
  ['a.*.>', 'a.b.c', true],
  ['*.b.>', 'x.b.y', true],
  ['*.b.>', 'x.c.y', false],
  ['a.b', 'a.b.c', false],
  ['a.b.c', 'a.b', false],
];

describe('covers', () => {
  for (const [outer, inner, want] of COVERS) {
    it(`${outer} ${want ? 'covers' : 'does not cover'} ${inner}`, () => assert.equal(covers(P(outer), P(inner)), want));
  }

  // Every topic of 1..5 segments over {a, b, z}: `z` stands in for "any other segment".
  const universe: Topic[] = [];
  const grow = (prefix: string[]): void => {
    if (prefix.length > 0) universe.push(T(prefix.join('.')));
    if (prefix.length < 5) for (const s of ['a', 'b', 'z']) grow([...prefix, s]);
  };
  grow([]);
  const patternArb = smallPattern(['a', 'b'], 4);

  it('property: covers is sound (never widens) over every topic of up to 5 segments', () => {
    let covered = 0;
    fc.assert(
      fc.property(patternArb, patternArb, (o, i) => {
        if (!covers(P(o), P(i))) return;
        if (o !== i) covered++;
        for (const t of universe) if (matches(P(i), t)) assert.ok(matches(P(o), t), `${o} covers ${i} but not ${t}`);
      }),
      {...FC, numRuns: 3000},
    );
    assert.ok(covered > 50, `the property must see real coverage, saw ${covered}`);
  });

  it('every pattern covers itself', () => {
    fc.assert(
      fc.property(patternArb, (p) => assert.ok(covers(P(p), P(p)), p)),
      FC,
    );
  });
});

/** Patterns of 1..maxLen segments over `alphabet`, `*`, and a trailing `>`. */
function smallPattern(alphabet: readonly string[], maxLen: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.array(fc.constantFrom(...alphabet, '*'), {minLength: 0, maxLength: maxLen}), fc.boolean())
    .filter(([s, tail]) => s.length + (tail ? 1 : 0) >= 1 && s.length + (tail ? 1 : 0) <= maxLen)
    .map(([s, tail]) => (tail ? [...s, '>'] : s).join('.'));
}
const smallTopic = (alphabet: readonly string[], maxLen: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...alphabet), {minLength: 1, maxLength: maxLen}).map((s) => s.join('.'));

describe('RoutingIndex', () => {
  const sorted = (s: Set<number>): number[] => [...s].sort((x, y) => x - y);
  const expected = (live: ReadonlyArray<readonly [string, number]>, t: string): number[] =>
    live
      .filter(([p]) => matches(P(p), T(t)))
      .map(([, v]) => v)
      .sort((x, y) => x - y);

  it('property: route(topic) is exactly the filter by `matches`, before and after random removals', () => {
    fc.assert(
      fc.property(
        fc.array(smallPattern(['a', 'b', 'c'], 5), {minLength: 1, maxLength: 120}),
        fc.array(smallTopic(['a', 'b', 'c', 'd'], 6), {minLength: 1, maxLength: 60}),
        fc.array(fc.boolean(), {minLength: 120, maxLength: 120}),
        (patterns, topics, drop) => {
          const idx = new RoutingIndex<number>();
          let live = patterns.map((p, i) => [p, i] as const); // the same pattern may appear under many values
          for (const [p, v] of live) idx.add(p, v);
          assert.equal(idx.size, live.length);
          for (const t of topics) assert.deepEqual(sorted(idx.route(t)), expected(live, t), `before removals: ${t}`);
          for (const [p, v] of live) if (drop[v] === true) idx.remove(p, v);
          live = live.filter(([, v]) => drop[v] !== true);
          assert.equal(idx.size, live.length);
          for (const t of topics) assert.deepEqual(sorted(idx.route(t)), expected(live, t), `after removals: ${t}`);
          for (const [p, v] of live) idx.remove(p, v);
          assert.equal(idx.size, 0);
          for (const t of topics) assert.equal(idx.route(t).size, 0, `after removing everything: ${t}`);
        },
      ),
      FC,
    );
  });

  it('removing what is absent (unknown pattern, wrong value, twice) changes nothing', () => {
    const idx = new RoutingIndex<string>();
    idx.add('a.*', 'x');
    idx.add('a.>', 'y');
    idx.remove('b.c', 'x');
    idx.remove('a.*', 'y');
    idx.remove('a.>', 'x');
    idx.remove('a.*.>', 'y');
    assert.equal(idx.size, 2);
    assert.deepEqual([...idx.route('a.q')].sort(), ['x', 'y']);
    idx.remove('a.*', 'x');
    idx.remove('a.*', 'x');
    assert.equal(idx.size, 1);
    assert.deepEqual([...idx.route('a.q')], ['y']);
  });

  it('a value reached by two of its patterns is routed once', () => {
    const idx = new RoutingIndex<string>();
    for (const p of ['a.b', 'a.*', 'a.>', '>', '*.b']) idx.add(p, 'v');
    assert.deepEqual([...idx.route('a.b')], ['v']);
  });

  it('refuses an invalid pattern with TypeError and adds nothing', () => {
    const idx = new RoutingIndex<string>();
    for (const p of ['', 'A', 'a..b', 'a.>.b', 'a*', segs(9)]) assert.throws(() => idx.add(p, 'v'), TypeError, p);
    assert.equal(idx.size, 0);
  });

  it('size counts a (pattern, value) added twice once, and returns to 0', () => {
    const idx = new RoutingIndex<string>();
    idx.add('a.b', 'v');
    idx.add('a.b', 'v');
    idx.remove('a.b', 'v');
    assert.equal(idx.route('a.b').size, 0);
    assert.equal(idx.size, 0);
  });
});
