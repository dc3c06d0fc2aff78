// Proves: a capsule's svc.http.request reaches only granted hosts, methods and addresses: every hop (redirects included) passes the gate, DNS answers are checked and pinned, caps on time and size hold, forbidden headers are refused, and a secret reaches the server but never the capsule or the ledger; each outcome is a service.result entry and a svc.http.response delivered back.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {openCapsuleStore, openKernelState, openSecrets, runSession, type KernelState, type RunResult} from '../../src/kernel/index.js';
import type {AnyEntry, BodyByKind} from '../../src/ledger/index.js';
import {unpackUntrusted, type CapsuleStore} from '../../src/sandbox/index.js';
import type {Resolver} from '../../src/services/index.js';
import type {TokenBudget} from '../../src/capabilities/index.js';
import {tmpDir} from '../helpers/index.js';
import {msgpack, watCapsule} from '../helpers/wat-capsule.js';
import {bodies} from '../helpers/entries.js';


const SECRET = 'Bearer s3cr3t-Value-7f1c9e';

interface Case {
  readonly r: RunResult;
  readonly es: AnyEntry[];
  readonly result: BodyByKind['service.result'];
  readonly response: Record<string, unknown>;
  readonly denied: BodyByKind['gate.denied'][];
}

describe('services: http egress through a capsule', () => {
  const {dir, cleanup} = tmpDir('astrid-http-');
  const home = join(dir, 'home');
  const pkgs = join(dir, 'pkgs');
  let k: KernelState;
  let store: CapsuleStore;
  let server: Server;
  let port = 0;
  let base = '';
  const hits: Array<{path: string; method: string; headers: IncomingMessage['headers']; body: string}> = [];
  const held: ServerResponse[] = [];
  let n = 0;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    hits.push({path: req.url ?? '', method: req.method ?? '', headers: req.headers, body});
    const u = new URL(req.url ?? '/', 'http://x');
    switch (u.pathname) {
      case '/ok':
        res.writeHead(200, {'content-type': 'text/plain', 'x-kind': 'ok'}).end(`hello ${req.method}`);
        return;
      case '/echo':
        res.writeHead(200, {'x-seen': String(req.headers.authorization ?? '')}).end(`you sent ${String(req.headers.authorization ?? '')} and ${body.length} bytes`);
        return;
      case '/redirect':
        res.writeHead(302, {location: u.searchParams.get('to') ?? '/ok'}).end();
        return;
      case '/loop':
        res.writeHead(302, {location: '/loop'}).end();
        return;
      case '/big':
        res.writeHead(200, {'content-type': 'application/octet-stream'}).end(Buffer.alloc(100 * 1024, 0x61));
        return;
      case '/big-chunked':
        res.writeHead(200);
        for (let i = 0; i < 100; i++) res.write(Buffer.alloc(1024, 0x62));
        res.end();
        return;
      case '/slow':
        held.push(res); // never answered
        return;
      default:
        res.writeHead(404).end();
    }
  };

  before(async () => {
    k = await openKernelState({home, mode: 'write'});
    store = openCapsuleStore(k);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    openSecrets(home).set('API_TOKEN', SECRET, ['127.0.0.1', 'svc.test']);
    openSecrets(home).set('OTHER_TOKEN', 'Bearer other-host-only', ['api.example.com']);
  });
  after(async () => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await k.close();
    cleanup();
  });

  /** A resolver from a table: a name maps to its answers, one per call (the last repeats). */
  const table = (t: Record<string, readonly (readonly string[])[]>, calls: string[] = []): Resolver => {
    const seen = new Map<string, number>();
    return async (host) => {
      calls.push(host);
      const answers = t[host];
      if (answers === undefined) throw new Error(`ENOTFOUND ${host}`);
      const i = seen.get(host) ?? 0;
      seen.set(host, i + 1);
      return answers[Math.min(i, answers.length - 1)] as readonly string[];
    };
  };
  const RESOLVER = table({'svc.test': [['127.0.0.1']], 'api.example.com': [['127.0.0.1']], 'evil.test': [['127.0.0.1']]});

  /** Install send-request.wat sending `svc.http.request` with `payload`, run it once under `grants`, and collect what the ledger says. */
  const run = async (
    payload: unknown,
    grants: readonly string[],
    o: {resolve?: Resolver; timeoutMs?: number; sessionBudget?: TokenBudget} = {},
  ): Promise<Case> => {
    const name = `http-${++n}`;
    const request = msgpack({topic: 'svc.http.request', payload});
    const bounds = [`http://127.0.0.1:${port}/`, `http://*.test:${port}/`, `http://*.example.com:${port}/`, `http://svc.test:${port}/`];
    await store.install(await watCapsule(pkgs, {fixture: 'send-request', name, request, sends: ['svc.http.request'], netHttp: bounds}));
    const r = await runSession(k, store, {
      capsule: name,
      grants: ['bus.send:svc.http.request', ...grants],
      topic: 'test.x',
      input: {},
      http: {resolve: o.resolve ?? RESOLVER, limits: {timeoutMs: o.timeoutMs ?? 3000}},
      ...(o.sessionBudget ? {sessionBudget: o.sessionBudget} : {}),
    });
    const es: AnyEntry[] = [];
    for await (const e of k.ledger.entries({session: r.session})) es.push(e.entry);
    const results = bodies(es, 'service.result');
    assert.equal(results.length, 1, `one service.result (${r.code ?? ''} ${r.message ?? ''})`);
    const msg = bodies(es, 'bus.message').filter((b) => b.topic === 'svc.http.response');
    assert.equal(msg.length, 1, 'one svc.http.response');
    const response = unpackUntrusted((msg[0] as BodyByKind['bus.message']).payload) as Record<string, unknown>;
    assert.equal(r.status, 'ok', `${r.code}: ${r.message}`);
    assert.equal(r.activations, 2, 'the request, then the delivered response');
    return {r, es, result: results[0] as BodyByKind['service.result'], response, denied: bodies(es, 'gate.denied')};
  };
  const GET = (url: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({method: 'GET', url, ...extra});
  const hitsSince = (from: number): typeof hits => hits.slice(from);
  const failed = (c: Case, code: string): void => {
    assert.deepEqual([c.result.ok, c.result.code], [false, code], c.result.detail);
    assert.equal(c.response.ok, false);
    assert.equal(c.response.code, code);
  };

  it('a granted host: the server answers, the response is delivered, and the outcome is a service.result after the request', async () => {
    const h = hits.length;
    const c = await run(GET(`${base}/ok`), [`net.http:GET ${base}/`]);
    assert.deepEqual([c.result.service, c.result.ok, c.result.code], ['http', true, '']);
    assert.equal(c.response.status, 200);
    assert.equal(Buffer.from(c.response.body as Uint8Array).toString(), 'hello GET');
    assert.equal((c.response.headers as Record<string, string>)['x-kind'], 'ok');
    assert.equal(hitsSince(h).length, 1);
    const send = c.es.findIndex((e) => e.kind === 'bus.message' && e.body.topic === 'svc.http.request');
    const allowed = c.es.findIndex((e) => e.kind === 'gate.allowed' && e.body.resource === `net.http:GET ${base}/ok`);
    const result = c.es.findIndex((e) => e.kind === 'service.result');
    assert.ok(send >= 0 && send < allowed && allowed < result, 'request, then the decision, then the result');
    assert.equal(c.result.cause > 0, true);
  });

  it('an ungranted host is denied by the gate, recorded, and never contacted', async () => {
    const h = hits.length;
    const c = await run(GET(`http://other.test:${port}/ok`), [`net.http:GET ${base}/`]);
    failed(c, 'HTTP_DENIED');
    assert.deepEqual(
      c.denied.map((d) => [d.layer, d.rule, d.resource]),
      [['token', 'no-token', `net.http:GET http://other.test:${port}/ok`]],
    );
    assert.equal(hitsSince(h).length, 0);
  });

  it('a method the grant does not name is denied', async () => {
    const h = hits.length;
    const c = await run({method: 'POST', url: `${base}/ok`, body: new Uint8Array([1, 2, 3])}, [`net.http:GET ${base}/`]);
    failed(c, 'HTTP_DENIED');
    assert.equal(c.denied.length, 1);
    assert.equal(hitsSince(h).length, 0);
    const ok = await run({method: 'POST', url: `${base}/echo`, body: new Uint8Array(Buffer.from('abc'))}, [`net.http:POST ${base}/`]);
    assert.equal(ok.response.status, 200);
    assert.equal(hits.at(-1)?.body, 'abc');
  });

  it('loopback needs a grant naming that exact host: other grants do not reach it (policy), a named host does', async () => {
    const h = hits.length;
    const c = await run(GET(`${base}/ok`), [`net.http:GET http://svc.test:${port}/`, `net.http:GET http://*.example.com:${port}/`]);
    failed(c, 'HTTP_DENIED');
    assert.deepEqual(c.denied.map((d) => [d.layer, d.rule]), [['policy', 'private-network']]);
    assert.equal(hitsSince(h).length, 0);
    const named = await run(GET(`http://svc.test:${port}/ok`), [`net.http:GET http://svc.test:${port}/`]);
    assert.equal(named.response.status, 200, 'svc.test resolves to 127.0.0.1 and the grant names svc.test');
    assert.equal(hits.at(-1)?.headers.host, `svc.test:${port}`, 'the Host header is the name asked for, the connection goes to the checked address');
  });

  it('a public-looking name resolving to a private address is refused (HTTP_PRIVATE_ADDRESS) unless the grant names it', async () => {
    const h = hits.length;
    for (const answers of [['127.0.0.1'], ['93.184.216.34', '10.0.0.7'], ['::1'], ['::ffff:127.0.0.1'], ['fd00::1'], ['169.254.169.254'], ['100.64.0.1'], ['0.0.0.0']]) {
      const c = await run(GET(`http://api.example.com:${port}/ok`), [`net.http:GET http://*.example.com:${port}/`], {resolve: table({'api.example.com': [answers]})});
      failed(c, 'HTTP_PRIVATE_ADDRESS');
      assert.match(c.result.detail, /internal address/);
    }
    assert.equal(hitsSince(h).length, 0);
  });

  it('DNS rebinding: the connection goes to the address that was checked; a second answer is never asked for', async () => {
    const h = hits.length;
    const calls: string[] = [];
    // first answer public, every later one loopback (where the test server listens)
    const rebinding = table({'a.rebind.test': [['93.184.216.34'], ['127.0.0.1']]}, calls);
    const c = await run(GET(`http://a.rebind.test:${port}/ok`), [`net.http:GET http://*.rebind.test:${port}/`], {resolve: rebinding, timeoutMs: 1500});
    assert.equal(c.result.ok, false, 'the public address does not answer here');
    assert.ok(['HTTP_CONNECT_FAILED', 'HTTP_TIMEOUT'].includes(c.result.code), c.result.code);
    assert.deepEqual(calls, ['a.rebind.test'], 'resolved once, for the check; the connection was pinned to that answer');
    assert.equal(hitsSince(h).length, 0, 'the loopback server was never reached');
  });

  it('an unresolvable name is HTTP_DNS_FAILED', async () => {
    failed(await run(GET(`http://nowhere.test:${port}/ok`), [`net.http:GET http://nowhere.test:${port}/`]), 'HTTP_DNS_FAILED');
  });

  it('a redirect is followed only through the gate: to an ungranted host it is denied and recorded', async () => {
    const h = hits.length;
    const target = `http://evil.test:${port}/ok`;
    const c = await run(GET(`${base}/redirect?to=${target}`), [`net.http:GET ${base}/`]);
    failed(c, 'HTTP_DENIED');
    assert.deepEqual(c.denied.map((d) => d.resource), [`net.http:GET ${target}`]);
    assert.deepEqual(hitsSince(h).map((x) => x.path), [`/redirect?to=${target}`]);
    const same = await run(GET(`${base}/redirect?to=/ok`), [`net.http:GET ${base}/`]);
    assert.equal(same.response.status, 200);
    assert.equal(same.response.url, `${base}/ok`);
  });

  it('a redirect loop stops at the limit (5 redirects: 6 requests)', async () => {
    const h = hits.length;
    failed(await run(GET(`${base}/loop`), [`net.http:GET ${base}/`]), 'HTTP_REDIRECT_LIMIT');
    assert.equal(hitsSince(h).length, 6);
  });

  it('a response over the body cap is aborted (declared or chunked)', async () => {
    for (const path of ['/big', '/big-chunked']) {
      const c = await run(GET(`${base}${path}`), [`net.http:GET ${base}/`]);
      failed(c, 'HTTP_TOO_LARGE');
      assert.equal(c.response.body, undefined);
    }
  });

  it('a slow server times out', async () => {
    const c = await run(GET(`${base}/slow`), [`net.http:GET ${base}/`], {timeoutMs: 300});
    failed(c, 'HTTP_TIMEOUT');
  });

  it('a secret is injected into the named header for a host it is bound to; the server sees it, the capsule and the ledger never do', async () => {
    const h = hits.length;
    const c = await run(GET(`${base}/echo`, {secrets: {Authorization: 'API_TOKEN'}}), [`net.http:GET ${base}/`]);
    assert.equal(c.response.status, 200);
    assert.equal(hitsSince(h)[0]?.headers.authorization, SECRET, 'the server got the secret');
    const body = Buffer.from(c.response.body as Uint8Array).toString();
    assert.equal(body.includes(SECRET), false, 'an echo in the body is scrubbed');
    assert.match(body, /you sent \[redacted\]/);
    assert.equal((c.response.headers as Record<string, string>)['x-seen'], '[redacted]');
    assert.equal(JSON.stringify(c.response).includes('s3cr3t'), false);
    // every byte of every stored entry, whole ledger
    const needle = Buffer.from(SECRET);
    const part = Buffer.from('s3cr3t-Value');
    let scanned = 0;
    for await (const e of k.ledger.entries()) {
      scanned++;
      const b = Buffer.from(e.bytes);
      assert.equal(b.indexOf(needle) < 0 && b.indexOf(part) < 0, true, `the secret is in entry ${e.seq} (${e.entry.kind})`);
    }
    assert.ok(scanned > 10);
  });

  it('a secret is never sent to a host it is not bound to: not by request (SECRET_HOST_DENIED), not through a redirect', async () => {
    const h = hits.length;
    const c = await run(GET(`${base}/echo`, {secrets: {Authorization: 'OTHER_TOKEN'}}), [`net.http:GET ${base}/`]);
    failed(c, 'SECRET_HOST_DENIED');
    assert.equal(hitsSince(h).length, 0);
    // bound to 127.0.0.1 and svc.test, redirected to api.example.com (granted): the hop goes without it
    const h2 = hits.length;
    const to = `http://api.example.com:${port}/echo`;
    const r = await run(GET(`${base}/redirect?to=${to}`, {secrets: {Authorization: 'API_TOKEN'}}), [`net.http:GET ${base}/`, `net.http:GET http://api.example.com:${port}/`]);
    assert.equal(r.response.status, 200);
    const seen = hitsSince(h2);
    assert.deepEqual(seen.map((x) => x.headers.authorization), [SECRET, undefined]);
  });

  it('an unknown secret is SECRET_NOT_FOUND and nothing is sent', async () => {
    const h = hits.length;
    failed(await run(GET(`${base}/echo`, {secrets: {Authorization: 'NO_SUCH_SECRET'}}), [`net.http:GET ${base}/`]), 'SECRET_NOT_FOUND');
    assert.equal(hitsSince(h).length, 0);
  });

  it('forbidden and malformed headers are refused (HTTP_INVALID) before anything is sent', async () => {
    const h = hits.length;
    const bad: Array<Record<string, string>> = [
      {Host: 'evil.test'},
      {'Content-Length': '5'},
      {Connection: 'keep-alive'},
      {'Transfer-Encoding': 'chunked'},
      {'Proxy-Authorization': 'x'},
      {'X-Ok': 'a\r\nInjected: yes'},
      {'Bad Name': 'x'},
    ];
    for (const headers of bad) failed(await run(GET(`${base}/ok`, {headers}), [`net.http:GET ${base}/`]), 'HTTP_INVALID');
    failed(await run(GET(`${base}/ok`, {secrets: {Host: 'API_TOKEN'}}), [`net.http:GET ${base}/`]), 'HTTP_INVALID');
    assert.equal(hitsSince(h).length, 0);
  });

  it('URLs are parsed strictly: credentials, other schemes and unknown fields are HTTP_INVALID', async () => {
    const h = hits.length;
    for (const p of [GET(`http://user:pw@127.0.0.1:${port}/ok`), GET(`ftp://127.0.0.1:${port}/ok`), GET(`${base}/ok#frag`), {...GET(`${base}/ok`), extra: 1}, {method: 'TRACE', url: `${base}/ok`}]) {
      failed(await run(p, [`net.http:GET ${base}/`]), 'HTTP_INVALID');
    }
    assert.equal(hitsSince(h).length, 0);
  });

  it('request bytes are charged as egress: a body over the session egress budget is denied by the budget layer', async () => {
    const h = hits.length;
    const c = await run({method: 'POST', url: `${base}/echo`, body: new Uint8Array(4096)}, [`net.http:POST ${base}/`], {sessionBudget: {egress_bytes: 1000}});
    failed(c, 'HTTP_DENIED');
    assert.deepEqual(c.denied.map((d) => [d.layer, d.rule]), [['budget', 'budget.egress_bytes']]);
    assert.equal(hitsSince(h).length, 0);
  });
});
