// Proves the resource grammar refuses every unnormalised or ambiguous resource, and that covers is sound: whatever a covered child allows, its parent allows (path globs, URLs, topics, kv), checked against exhaustive enumeration.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {
  globCovers,
  httpAllows,
  kvMatches,
  parseHttpTarget,
  parseResource,
  pathMatches,
  resourceAllows,
  resourceCovers,
  type HttpTarget,
  type Resource,
  type ResourceType,
} from '../../src/capabilities/index.js';
import {code} from '../helpers/ledger-fixtures.js';

const FC = {seed: 0x0e5, numRuns: 400} as const;
const HEX = 'a1'.repeat(32);

const VALID = [
  ...['fs.read:/', 'fs.read:/srv/project/**', 'fs.write:/tmp/*.txt', 'fs.read:/a/*/c', 'fs.read:/srv/my file', 'fs.read:/srv/%41%20'],
  ...['kv:notes', 'kv:*', 'kv:a*', 'kv:my.ns-1_x', 'bus.send:tool.*', 'bus.send:tool.>', 'bus.recv:a.b.c', 'bus.send:>', 'spawn:echo', `spawn:blake3:${HEX}`],
  ...['net.http:https://api.example.com/v1', 'net.http:GET https://api.example.com/v1/', 'net.http:GET,POST https://api.example.com/'],
  ...['net.http:https://*.example.com/', 'net.http:http://localhost:8080/x', 'net.http:https://example.com', 'net.http:https://[::1]/x', 'net.http:HTTPS://Example.COM/x'],
];

const INVALID: Array<[string, string]> = [
  ['', 'empty'],
  ['fs.read/srv', 'no colon'],
  ['fs.exec:/x', 'unknown type'],
  ['FS.READ:/x', 'type is case-sensitive'],
  ['fs.read:', 'empty path'],
  ['fs.read:srv/x', 'relative'],
  ['fs.read:/srv/../etc/passwd', '..'],
  ['fs.read:/..', '.. at the root'],
  ['fs.read:/srv/./x', '.'],
  ['fs.read:/srv/', 'trailing slash'],
  ['fs.read:/srv//x', 'double slash'],
  ['fs.read://srv', 'leading double slash'],
  ['fs.read:/srv/%2e%2e/etc', 'percent-encoded ..'],
  ['fs.read:/srv/%2E%2E/etc', 'percent-encoded .. (upper case)'],
  ['fs.read:/srv/.%2e/etc', 'half-encoded ..'],
  ['fs.read:/srv%2fetc', 'percent-encoded slash'],
  ['fs.read:/srv%5cetc', 'percent-encoded backslash'],
  ['fs.read:/srv/%00', 'percent-encoded NUL'],
  ['fs.read:/srv/\u0000', 'NUL'],
  ['fs.read:/srv\\..\\etc', 'backslash'],
  ['fs.read:/srv/a**', '** not a whole segment'],
  ['fs.read:/srv/**x/y', '** not a whole segment'],
  ['fs.write:/' + 'a'.repeat(4096), 'path too long'],
  ['kv:', 'empty namespace'],
  ['kv:Notes', 'upper case'],
  ['kv:-x', 'leading dash'],
  ['kv:.x', 'leading dot'],
  ['kv:a/b', 'slash'],
  ['kv:a b', 'space'],
  ['kv:' + 'a'.repeat(129), 'too long'],
  ['bus.send:', 'empty topic'],
  ['bus.send:tool.>.x', '> not last'],
  ['bus.send:Tool', 'upper case'],
  ['bus.send:a..b', 'empty segment'],
  ['bus.send:a.', 'trailing dot'],
  ['bus.send:a*', '* inside a segment'],
  ['bus.recv:a.b.c.d.e.f.g.h.i', '9 segments'],
  ['spawn:', 'empty'],
  ['spawn:Echo', 'upper case'],
  ['spawn:-x', 'leading dash'],
  ['spawn:*', 'wildcard'],
  [`spawn:blake3:${HEX.slice(1)}`, '63 hex'],
  [`spawn:blake3:${HEX.toUpperCase()}`, 'upper-case hex'],
  ['net.http:https://example.com/x?a=1', 'query in a grant'],
  ['net.http:https://example.com/x?', 'empty query in a grant'],
  ['net.http:https://example.com/x#f', 'fragment'],
  ['net.http:https://user:pw@example.com/', 'credentials'],
  ['net.http:https://user@example.com/', 'user name'],
  ['net.http:https://example.com:443@evil.com/', 'port-like credentials'],
  ['net.http:https://example.com/a/%2e%2e/b', 'percent-encoded ..'],
  ['net.http:https://example.com/a/%2E./b', 'half-encoded ..'],
  ['net.http:https://example.com/a%2fb', 'percent-encoded slash'],
  ['net.http:https://example.com%2f@evil.com/', 'percent-encoded slash in the host'],
  ['net.http:https://example.com\\@evil.com/', 'backslash'],
  ['net.http:https://example.com/a\\b', 'backslash in the path'],
  ['net.http:GET  https://example.com/', 'two spaces'],
  ['net.http:https://example.com/a b', 'space in the URL'],
  ['net.http:get https://example.com/', 'lower-case method'],
  ['net.http:CONNECT https://example.com/', 'method not allowed'],
  ['net.http:GET,GET https://example.com/', 'method twice'],
  ['net.http:GET, POST https://example.com/', 'space after the comma'],
  ['net.http:, https://example.com/', 'empty method list'],
  ['net.http:ftp://example.com/', 'ftp'],
  ['net.http:file:///etc/passwd', 'file'],
  ['net.http:ws://example.com/', 'ws'],
  ['net.http://example.com/', 'scheme-relative'],
  ['net.http:example.com/x', 'no scheme'],
  ['net.http:https:///x', 'no host (a third slash)'],
  ['net.http:https:////evil.com/x', 'a host behind extra slashes'],
  ['net.http:https:///user:pw@example.com/', 'credentials behind a third slash'],
  ['net.http:https://*/', 'bare wildcard host'],
  ['net.http:https://a.*.example.com/', 'inner wildcard'],
  ['net.http:https://**.example.com/', 'double wildcard'],
  ['net.http:https://*example.com/', 'wildcard without dot'],
  ['net.http:https://exa_mple.com/', 'underscore in host'],
  ['net.http:https://-a.com/', 'leading dash in a label'],
  ['net.http:https://example.com./', 'trailing dot in host'],
  ['net.http:https://example.com:99999/', 'port out of range'],
  ['net.http:https://example.com:abc/', 'port not a number'],
  ['net.http:https://[fe80::1%25eth0]/', 'IPv6 zone'],
];

describe('grammar', () => {
  for (const r of VALID) {
    it(`accepts ${JSON.stringify(r)}`, () => {
      const p = parseResource(r);
      assert.equal(p.text, r);
      assert.equal(p.type, r.slice(0, r.indexOf(':')));
    });
  }
  for (const [r, why] of INVALID) {
    it(`refuses ${JSON.stringify(r.slice(0, 60))} (${why}) with RESOURCE_INVALID`, () => {
      assert.throws(() => parseResource(r), code('RESOURCE_INVALID'));
    });
  }

  it('net.http: methods are sorted, default ports filled in, host lower-cased', () => {
    const t = parseHttpTarget('POST,GET HTTPS://API.Example.com/v1', false);
    assert.deepEqual(t, {methods: ['GET', 'POST'], scheme: 'https', host: 'api.example.com', port: 443, path: '/v1'});
    assert.deepEqual(parseHttpTarget('http://a.com:80/', false), parseHttpTarget('http://a.com/', false));
  });

  it('net.http requests: credentials are refused even behind a third slash (the URL parser skips it)', () => {
    assert.equal(typeof parseHttpTarget('GET https:///user:pw@a.com/x', true), 'string');
    assert.equal(resourceAllows(parseResource('net.http:https://a.com/'), 'net.http', 'GET https:///user:pw@a.com/x'), false);
  });

  it('net.http requests: exactly one method, a query allowed and kept, no wildcard host allowed', () => {
    assert.equal(typeof parseHttpTarget('https://a.com/x', true), 'string');
    assert.equal(typeof parseHttpTarget('GET,POST https://a.com/x', true), 'string');
    const r = parseHttpTarget('GET https://a.com/x?q=1', true);
    assert.ok(typeof r !== 'string');
    assert.equal(r.path, '/x?q=1');
    assert.equal(typeof parseHttpTarget('GET https://user:pw@a.com/x', true), 'string');
    const grant = parseResource('net.http:https://*.a.com/');
    assert.equal(resourceAllows(grant, 'net.http', 'GET https://*.a.com/'), false);
    assert.equal(resourceAllows(grant, 'net.http', 'GET https://b.a.com/'), true);
  });
});

describe('matching edge cases', () => {
  const globCases: Array<[string, string, boolean]> = [
    ['/srv/project/**', '/srv/project-evil/x', false],
    ['/srv/project/**', '/srv/project-evil', false],
    ['/srv/project/**', '/srv/project/../etc/passwd', false],
    ['/srv/project/**', '/srv/project/%2e%2e/etc', false],
    ['/srv/project/**', '/srv/project/', false],
    ['/srv/project/', '/srv/project/x', false],
    ['/srv/project/**', '/srv/project', true],
    ['/srv/project/**', '/srv/project/a/b/c', true],
    ['/a/*', '/a/**', false],
    ['/a/**', '/a/*', true],
    ['/a/*/c', '/a/**', false],
    ['/a/**', '/a/*/c', true],
    ['/a/*', '/a/b/c', false],
    ['/a/*', '/a/b*', true],
    ['/a/b*', '/a/bc*', false],
    ['/a/**/b', '/a/b', true],
    ['/a/**/b', '/a/x/**/b', true],
    ['/a/**/b', '/a/**', false],
    ['/', '/', true],
    ['/', '/a', false],
    ['/**', '/', true],
    ['/**', '/anything/**', true],
    ['/srv/pro*', '/srv/project-evil/x', false],
  ];
  for (const [p, c, want] of globCases) {
    it(`globCovers(${p}, ${c}) is ${want}`, () => assert.equal(globCovers(p, c), want));
  }

  const matchCases: Array<[string, string, boolean]> = [
    ['/srv/project/**', '/srv/project-evil/x', false],
    ['/srv/project/**', '/srv/project/../etc/passwd', false],
    ['/srv/project/**', '/srv/project/./x', false],
    ['/srv/project/**', '/srv/project//x', false],
    ['/srv/*', '/srv/', false],
    ['/srv/*', '/srv', false],
    ['/a/*.txt', '/a/b.txt', true],
    ['/a/*.txt', '/a/bxtxt', false],
    ['/a/b.c', '/a/bxc', false],
    ['/a/*(x)', '/a/q(x)', true],
    ['/a/[*', '/a/[b', true],
    ['/**/x', '/a/b/c/x', true],
    ['/' + Array(30).fill('**').join('/') + '/x', '/' + Array(40).fill('a').join('/'), false],
  ];
  for (const [g, p, want] of matchCases) {
    it(`pathMatches(${g.slice(0, 40)}, ${p.slice(0, 40)}) is ${want}`, () => assert.equal(pathMatches(g, p), want));
  }

  it('resourceCovers across types, kv, spawn and net.http', () => {
    const cov = (p: string, c: string): boolean => resourceCovers(parseResource(p), parseResource(c));
    assert.equal(cov('fs.read:/**', 'fs.write:/a'), false);
    assert.equal(cov('bus.send:>', 'bus.recv:a'), false);
    assert.equal(cov('kv:*', 'kv:a*'), true);
    assert.equal(cov('kv:a*', 'kv:ab'), true);
    assert.equal(cov('kv:a*', 'kv:a*b'), false);
    assert.equal(cov('kv:a*', 'kv:b'), false);
    assert.equal(cov('spawn:echo', 'spawn:echo'), true);
    assert.equal(cov('spawn:echo', 'spawn:echo2'), false);
    assert.equal(cov('net.http:https://a.com/api', 'net.http:https://a.com/api-evil'), false);
    assert.equal(cov('net.http:https://a.com/api', 'net.http:https://a.com/api/v1'), true);
    assert.equal(cov('net.http:https://a.com/api/', 'net.http:https://a.com/api'), false);
    assert.equal(cov('net.http:GET https://a.com/', 'net.http:https://a.com/'), false);
    assert.equal(cov('net.http:https://a.com/', 'net.http:http://a.com/'), false);
    assert.equal(cov('net.http:https://a.com/', 'net.http:https://a.com:8443/'), false);
    assert.equal(cov('net.http:https://*.a.com/', 'net.http:https://a.com/'), false);
    assert.equal(cov('net.http:https://*.a.com/', 'net.http:https://*.b.a.com/'), true);
    assert.equal(cov('net.http:https://*.a.com/', 'net.http:https://evila.com/'), false);
    assert.equal(cov('net.http:https://a.com/', 'net.http:https://*.a.com/'), false);
  });

  it('net.http requests cannot escape a path prefix with dot segments, encodings or look-alike hosts', () => {
    const g = parseResource('net.http:GET https://a.com/api');
    for (const [req, want] of [
      ['GET https://a.com/api', true],
      ['GET https://a.com/api/x', true],
      ['GET https://a.com/api?x=1', true],
      ['GET https://a.com/api/../admin', false],
      ['GET https://a.com/api/%2e%2e/admin', false],
      ['GET https://a.com/api%2f..%2fadmin', false],
      ['GET https://a.com/api-admin', false],
      ['GET https://a.com.evil.com/api', false],
      ['GET https://a.com@evil.com/api', false],
      ['POST https://a.com/api', false],
      ['GET http://a.com/api', false],
      ['GET https://A.COM/api', true],
    ] as const) {
      assert.equal(resourceAllows(g, 'net.http', req), want, req);
    }
  });

  it('kvMatches never matches a namespace that is itself a pattern', () => {
    assert.equal(kvMatches('a*', 'abc'), true);
    assert.equal(kvMatches('a*', 'a*'), false);
    assert.equal(kvMatches('*', 'Abc'), false);
  });
});

/** Every list of 0..maxLen items drawn from `alphabet`. */
function allLists(alphabet: readonly string[], maxLen: number, minLen = 0): string[][] {
  const out: string[][] = [];
  let layer: string[][] = [[]];
  for (let n = 0; n <= maxLen; n++) {
    if (n >= minLen) out.push(...layer);
    layer = layer.flatMap((l) => alphabet.map((a) => [...l, a]));
  }
  return out;
}

/** A plain backtracking reference for segment globs: the oracle for pathMatches. */
function refMatch(g: readonly string[], p: readonly string[]): boolean {
  if (g.length === 0) return p.length === 0;
  const [head, ...rest] = g as [string, ...string[]];
  if (head === '**') return refMatch(rest, p) || (p.length > 0 && refMatch(g, p.slice(1)));
  const re = new RegExp('^' + head.split('*').join('.*') + '$');
  return p.length > 0 && re.test(p[0] as string) && refMatch(rest, p.slice(1));
}

describe('soundness properties', () => {
  const globSeg = fc.constantFrom('a', 'b', 'ab', '*', '**', 'a*');
  const glob = fc.array(globSeg, {maxLength: 4});
  const PATHS = allLists(['a', 'b', 'ab', 'ba'], 5);
  const abs = (s: readonly string[]): string => '/' + s.join('/');

  it('property: pathMatches agrees with a backtracking reference', () => {
    fc.assert(
      fc.property(glob, fc.constantFrom(...PATHS), (g, x) => assert.equal(pathMatches(abs(g), abs(x)), refMatch(g, x), `${abs(g)} vs ${abs(x)}`)),
      {...FC, numRuns: 2000},
    );
  });

  it('property: globCovers(p, c) and pathMatches(c, x) imply pathMatches(p, x)', () => {
    let covered = 0;
    fc.assert(
      fc.property(glob, glob, (p, c) => {
        if (!globCovers(abs(p), abs(c))) return;
        if (abs(p) !== abs(c)) covered++;
        for (const x of PATHS) if (pathMatches(abs(c), abs(x))) assert.ok(pathMatches(abs(p), abs(x)), `${abs(p)} covers ${abs(c)} but not ${abs(x)}`);
      }),
      FC,
    );
    assert.ok(covered > 20, `only ${covered} non-trivial covering pairs were tried`);
  });

  const grantArb = fc.record({
    methods: fc.constantFrom('', 'GET ', 'GET,POST ', 'POST '),
    scheme: fc.constantFrom('https', 'http'),
    host: fc.constantFrom('a.com', 'b.a.com', 'x.b.a.com', '*.a.com', '*.b.a.com', 'ab.a.com'),
    port: fc.constantFrom('', ':8080', ':443'),
    path: fc.constantFrom('', '/', '/x', '/x/', '/x/y', '/xy'),
  });
  const REQUESTS = allLists(['x', 'y', 'xy'], 2).flatMap((segs) =>
    ['GET', 'POST', 'PUT'].flatMap((m) =>
      ['https', 'http'].flatMap((s) =>
        ['a.com', 'b.a.com', 'x.b.a.com', 'c.a.com', 'ab.a.com'].flatMap((h) =>
          ['', ':8080', ':443'].flatMap((port) => ['', '/', '?q=1'].map((tail) => `${m} ${s}://${h}${port}/${segs.join('/')}${tail}`)),
        ),
      ),
    ),
  );

  const TARGETS = REQUESTS.map((r) => {
    const t = parseHttpTarget(r, true);
    assert.ok(typeof t !== 'string', r);
    return t;
  });
  it('resourceAllows on a request string agrees with httpAllows on its parsed target', () => {
    const g = parseResource('net.http:GET https://*.a.com/x');
    assert.ok(g.type === 'net.http');
    REQUESTS.forEach((r, i) => assert.equal(resourceAllows(g, 'net.http', r), httpAllows(g.target, TARGETS[i] as HttpTarget), r));
  });

  it('property: net.http covers(p, c) and allows(c, r) imply allows(p, r)', () => {
    let covered = 0;
    const text = (g: {methods: string; scheme: string; host: string; port: string; path: string}): string => `net.http:${g.methods}${g.scheme}://${g.host}${g.port}${g.path}`;
    fc.assert(
      fc.property(grantArb, grantArb, (pg, cg) => {
        const p = parseResource(text(pg));
        const c = parseResource(text(cg));
        if (!resourceCovers(p, c)) return;
        if (p.text !== c.text) covered++;
        assert.ok(p.type === 'net.http' && c.type === 'net.http');
        REQUESTS.forEach((r, i) => {
          if (httpAllows(c.target, TARGETS[i] as HttpTarget)) assert.ok(httpAllows(p.target, TARGETS[i] as HttpTarget), `${p.text} covers ${c.text} but not ${r}`);
        });
      }),
      {...FC, numRuns: 3000},
    );
    assert.ok(covered > 20, `only ${covered} non-trivial covering pairs were tried`);
  });

  it('property: httpAllows never lets a wildcard grant reach the bare domain or a look-alike', () => {
    const g = parseHttpTarget('https://*.a.com/', false);
    assert.ok(typeof g !== 'string');
    for (const host of ['a.com', 'evila.com', 'a.com.evil.com', 'xa.com']) {
      const r = parseHttpTarget(`GET https://${host}/`, true);
      assert.ok(typeof r !== 'string');
      assert.equal(httpAllows(g, r), false, host);
    }
  });

  const patternArb = fc
    .tuple(fc.array(fc.constantFrom('a', 'b', '*'), {minLength: 0, maxLength: 3}), fc.boolean())
    .filter(([segs, tail]) => segs.length > 0 || tail)
    .map(([segs, tail]) => [...segs, ...(tail ? ['>'] : [])].join('.'));
  const TOPICS = allLists(['a', 'b'], 5, 1).map((t) => t.join('.'));

  for (const type of ['bus.send', 'bus.recv'] as const) {
    it(`property: ${type} topic covers(p, c) and allows(c, t) imply allows(p, t)`, () => {
      let covered = 0;
      fc.assert(
        fc.property(patternArb, patternArb, (ps, cs) => {
          const p = parseResource(`${type}:${ps}`);
          const c = parseResource(`${type}:${cs}`);
          if (!resourceCovers(p, c)) return;
          if (ps !== cs) covered++;
          for (const t of TOPICS) if (resourceAllows(c, type, t)) assert.ok(resourceAllows(p, type, t), `${ps} covers ${cs} but not ${t}`);
        }),
        FC,
      );
      assert.ok(covered > 20, `only ${covered} non-trivial covering pairs were tried`);
    });
  }

  it('property: kv covers(p, c) and allows(c, n) imply allows(p, n)', () => {
    const NAMES = allLists(['a', 'b'], 4, 1).map((n) => n.join(''));
    const pat = fc.constantFrom('a', 'ab', 'a*', '*', '*b', 'b', 'a*b', '*a*');
    fc.assert(
      fc.property(pat, pat, (ps, cs) => {
        const p = parseResource(`kv:${ps}`);
        const c = parseResource(`kv:${cs}`);
        if (!resourceCovers(p, c)) return;
        for (const n of NAMES) if (resourceAllows(c, 'kv', n)) assert.ok(resourceAllows(p, 'kv', n), `${ps} covers ${cs} but not ${n}`);
      }),
      FC,
    );
  });

  it('a resource never allows a request of another type', () => {
    const all: Resource[] = VALID.map((r) => parseResource(r));
    const types: ResourceType[] = ['fs.read', 'fs.write', 'kv', 'bus.send', 'bus.recv', 'net.http', 'spawn'];
    for (const r of all) for (const t of types) if (t !== r.type) assert.equal(resourceAllows(r, t, r.text.slice(r.text.indexOf(':') + 1)), false, `${r.text} as ${t}`);
  });
});
