// Proves: from outside, as a new user would: an agent principal gets a narrow signed token, the stock fs-tool capsule works inside it and every attempt outside it is denied and explained (run output and ledger name layer, rule and reason); delegation can only narrow (TOKEN_WIDENED names the axis), revocation reaches the children, single-use tokens and session budgets run out, and the JSON error contract and exit codes hold.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {repoRoot, runCli, runCliAsync, tmpDir, type CliResult, cliFails as failsWith, cliJson as json, cliOk as ok, type Json} from '../helpers/index.js';
import {manifestToml, parseManifest} from '../../src/sandbox/index.js';




/** Exit `exit` (1 by default) with one `{"error": {code, message}}` object carrying `code`. */

/** Does a JSON-rendered binary field hold exactly `text`? (Accepts hex, base64, a byte array, or an index-keyed object.) */
function holdsBytes(v: unknown, text: string): boolean {
  const want = Buffer.from(text);
  if (typeof v === 'string') return v === want.toString('hex') || v === want.toString('base64');
  if (Array.isArray(v)) return Buffer.from(v as number[]).equals(want);
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, number>;
    return Buffer.from(Object.keys(o).map((_k, i) => o[String(i)] ?? -1)).equals(want);
  }
  return false;
}

const TOKEN_ID = /^tk_[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const README = 'hello from the project\n';
/** Files under <root>/other, which no token covers: each approval test asks for its own. */
const OTHER_FILES = ['once.txt', 'denied.txt', 'session.txt', 'always.txt', 'sibling.txt'];

/**
 * A real temporary world: <root>/project (granted), <root>/secret.txt and <root>/project-evil
 * (not granted), a symlink in the project pointing at the secret, the Astrid home at
 * <root>/home, and a copy of capsules/fs-tool whose manifest bounds fs_read to <root>/** (the
 * module is unchanged, so its pinned hash still holds).
 */
function fsToolWorld(prefix: string): {root: string; home: string; pkg: string; cleanup: () => void} {
  const {dir, cleanup} = tmpDir(prefix);
  const root = realpathSync(dir);
  mkdirSync(join(root, 'project', 'docs'), {recursive: true});
  mkdirSync(join(root, 'project-evil'));
  mkdirSync(join(root, 'other'));
  writeFileSync(join(root, 'project', 'README.md'), README);
  writeFileSync(join(root, 'project', 'docs', 'guide.md'), 'the guide\n');
  writeFileSync(join(root, 'secret.txt'), 'the secret\n');
  writeFileSync(join(root, 'project-evil', 'x'), 'evil\n');
  for (const f of OTHER_FILES) writeFileSync(join(root, 'other', f), `${f}\n`);
  symlinkSync(join(root, 'secret.txt'), join(root, 'project', 'link.txt'));
  const src = join(repoRoot, 'capsules', 'fs-tool');
  const m = parseManifest(readFileSync(join(src, 'capsule.toml'), 'utf8'));
  const pkg = join(root, 'pkgs', 'fs-tool');
  mkdirSync(pkg, {recursive: true});
  writeFileSync(join(pkg, m.module.file), readFileSync(join(src, m.module.file)));
  writeFileSync(join(pkg, 'capsule.toml'), manifestToml({...m, resources: {...m.resources, fs_read: [`${root}/**`]}}));
  return {root, home: join(root, 'home'), pkg, cleanup};
}

describe('astrid principal, grant, token, revoke, run --token: authority from outside', () => {
  const {root, home, pkg, cleanup} = fsToolWorld('astrid-e2e-authority-');
  const project = join(root, 'project');
  const read = (path: string): string[] => ['--topic', 'tool.fs.read', '--input', JSON.stringify({path}), '--json'];
  const runAs = (tokens: readonly string[], path: string, ...extra: string[]): CliResult =>
    runCli(['run', 'fs-tool', ...tokens.flatMap((t) => ['--token', t]), ...extra, ...read(path)], home);
  let researcherKey = '';
  let parent = '';
  let child = '';

  before(() => {
    const r = runCli(['capsule', 'install', pkg, '--json'], home);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
  after(cleanup);

  it('a user creates an agent, grants it a narrow token, and fs-tool reads inside it', () => {
    const p = ok(runCli(['principal', 'create', 'researcher', '--json'], home));
    assert.deepEqual([p.name, p.role], ['researcher', 'agent']);
    assert.match(String(p.key), HEX64);
    researcherKey = String(p.key);
    assert.deepEqual([ok(runCli(['principal', 'create', 'helper', '--json'], home)).role], ['agent']);

    const g = ok(runCli(['grant', '--to', 'researcher', '--resource', `fs.read:${project}/**`, '--resource', 'bus.send:tool.fs.*', '--expires', '1h', '--budget', 'messages=50', '--json'], home));
    assert.match(String(g.id), TOKEN_ID);
    parent = String(g.id);
    const t = g.token as Json;
    assert.equal(g.status, 'active');
    assert.deepEqual([t.id, t.subject, t.subjectKey, t.parent, t.budget, t.caveats], [parent, 'researcher', researcherKey, null, {messages: 50}, []]);
    assert.deepEqual([...(t.resources as string[])].sort(), ['bus.send:tool.fs.*', `fs.read:${project}/**`]);
    const window = Date.parse(String(t.notAfter)) - Date.parse(String(t.notBefore));
    assert.ok(window > 3_500_000 && window <= 3_600_000, `a 1h window, not ${window} ms`);
    assert.deepEqual(g.chain, [{id: parent, subject: 'researcher', issuer: 'owner', status: 'active'}]);

    const r = ok(runAs([parent], join(project, 'README.md')));
    assert.deepEqual([r.status, r.principal, r.tokens, r.denials, r.activations], ['ok', 'researcher', [parent], [], 1]);
    const sends = r.sends as Json[];
    assert.equal(sends.length, 1);
    assert.equal(sends[0]?.topic, 'tool.fs.result');
    const reply = sends[0]?.payload as Json;
    assert.deepEqual([reply.ok, reply.op, reply.path, reply.bytes], [true, 'read', join(project, 'README.md'), Buffer.byteLength(README)]);
    assert.ok(holdsBytes(reply.data, README), `the reply holds the file: ${JSON.stringify(reply.data)}`);

    // the session ran as researcher under exactly that token
    const started = json(runCli(['audit', 'show', '--session', String(r.session), '--kind', 'session.started', '--json'], home)) as Json[];
    assert.deepEqual(started.map((e) => [e.principal, (e.body as Json).grants]), [['researcher', [parent]]]);
  });

  it('every attempt outside the token is denied, and the run and the ledger name layer, rule and reason', () => {
    const ownerKeyFile = join(home, 'keys', 'owner.key');
    const cases: Array<[path: string, layer: string, rule: string, reason: RegExp]> = [
      [join(root, 'secret.txt'), 'token', 'no-token', /no token of researcher covers fs\.read:/],
      [join(root, 'project-evil', 'x'), 'token', 'no-token', /no token of researcher covers fs\.read:/],
      [`${project}/../secret.txt`, 'classify', 'path-normalised', /"\.\."/],
      [ownerKeyFile, 'policy', 'deny-root', /inside a protected root/],
      [join(project, 'link.txt'), 'policy', 'symlink-escape', new RegExp(`resolves to ${join(root, 'secret.txt')}`)],
      ['/etc/hostname', 'manifest', 'manifest.fs.read', /outside what the capsule's manifest declares/],
    ];
    const sessions = new Map<string, {layer: string; rule: string; resource: string; reason: string}>();
    for (const [path, layer, rule, reason] of cases) {
      const r = ok(runAs([parent], path));
      assert.equal(r.status, 'ok', `${path}: fs-tool answers the refusal and returns 0`);
      assert.deepEqual(
        (r.sends as Json[]).map((s) => s.payload),
        [{ok: false, op: 'read', path, code: 'DENIED'}],
        path,
      );
      const denials = r.denials as Array<{layer: string; rule: string; resource: string; reason: string}>;
      assert.equal(denials.length, 1, `${path}: ${JSON.stringify(denials)}`);
      const d = denials[0] as {layer: string; rule: string; resource: string; reason: string};
      assert.deepEqual([d.layer, d.rule, d.resource], [layer, rule, `fs.read:${path}`], path);
      assert.match(d.reason, reason, path);
      sessions.set(String(r.session), d);
    }

    const ledger = json(runCli(['audit', 'show', '--kind', 'gate.denied', '--json'], home)) as Json[];
    for (const [session, d] of sessions) {
      const entries = ledger.filter((e) => e.session === session);
      assert.equal(entries.length, 1, `${d.resource}: one gate.denied entry in ${session}`);
      const e = entries[0] as Json;
      assert.equal(e.principal, 'researcher');
      assert.deepEqual(e.body, {code: 'GATE_DENIED', layer: d.layer, rule: d.rule, resource: d.resource, reason: d.reason, capsule: 'fs-tool'});
    }
  });

  it('token attenuate refuses anything wider than the parent with TOKEN_WIDENED naming the axis, and issues nothing', () => {
    const wider: Array<[string[], string]> = [
      [['--resource', `fs.read:${root}/**`], 'resources'],
      [['--resource', `fs.read:${root}/project-evil/**`, '--resource', 'bus.send:tool.fs.result'], 'resources'],
      [['--expires', '2h'], 'expiry'],
      [['--budget', 'messages=51'], 'budget'],
      [['--not-before', '2020-01-01T00:00:00Z'], 'not_before'],
    ];
    for (const [flags, axis] of wider) {
      const e = failsWith(runCli(['token', 'attenuate', parent, '--to', 'helper', ...flags, '--json'], home), 'TOKEN_WIDENED');
      assert.deepEqual(e.details, {axis}, flags.join(' '));
      assert.match(String(e.message), new RegExp(`widen ${parent} on ${axis}`));
    }
    assert.deepEqual(json(runCli(['grants', '--principal', 'helper', '--json'], home)), []);
  });

  it('a narrower child works for its own principal, only within itself and its budget', () => {
    const c = ok(
      runCli(
        ['token', 'attenuate', parent, '--to', 'helper', '--resource', `fs.read:${project}/README.md`, '--resource', 'bus.send:tool.fs.result', '--expires', '30m', '--budget', 'messages=2', '--json'],
        home,
      ),
    );
    child = String(c.id);
    assert.match(child, TOKEN_ID);
    const t = c.token as Json;
    assert.deepEqual([c.status, c.via, t.subject, t.parent, t.issuer, t.budget], ['active', 'attenuate', 'helper', parent, researcherKey, {messages: 2}]);
    assert.deepEqual(c.chain, [
      {id: child, subject: 'helper', issuer: 'researcher', status: 'active'},
      {id: parent, subject: 'researcher', issuer: 'owner', status: 'active'},
    ]);

    const r = ok(runAs([child], join(project, 'README.md')));
    assert.deepEqual([r.status, r.principal, r.tokens, r.denials], ['ok', 'helper', [child], []]);
    assert.ok(holdsBytes(((r.sends as Json[])[0]?.payload as Json).data, README));
    // inside the parent but outside the child
    const outside = ok(runAs([child], join(project, 'docs', 'guide.md')));
    assert.deepEqual(
      (outside.denials as Json[]).map((d) => [d.layer, d.rule, d.resource]),
      [['token', 'no-token', `fs.read:${project}/docs/guide.md`]],
    );
    // two replies sent: the child's messages budget is spent, and the next reply is refused
    const spent = json(runCli(['token', 'show', child, '--json'], home)) as Json;
    assert.deepEqual([spent.status, (spent.spent as Json).messages], ['active', 2]);
    const broke = runAs([child], join(project, 'README.md'));
    assert.equal(broke.status, 1, broke.stdout);
    const b = json(broke) as Json;
    assert.deepEqual([b.status, b.sends], ['error', []]);
    assert.deepEqual(
      (b.denials as Json[]).map((d) => [d.layer, d.rule, d.resource]),
      [['budget', 'budget.messages', 'bus.send:tool.fs.result']],
    );
    assert.match(String((b.denials as Json[])[0]?.reason), new RegExp(`${child} has 0 messages left of 2`));
    // a session runs under one principal
    const mixed = failsWith(runAs([child, parent], join(project, 'README.md')), 'INPUT_INVALID');
    assert.match(String(mixed.message), /different principals/);
  });

  it('a single-use token authorises exactly one request, then is used-up and refused at run', () => {
    const human = runCli(['grant', '--to', 'researcher', '--resource', `fs.read:${project}/README.md`, '--caveat', 'single-use'], home);
    assert.equal(human.status, 0, human.stderr);
    const once = human.stdout.trim();
    assert.match(once, TOKEN_ID, 'without --json, grant prints only the id (ID=$(astrid grant ...))');

    // the single-use token is first, so it authorises the read; the parent covers the reply
    const r = ok(runAs([once, parent], join(project, 'README.md')));
    assert.deepEqual([r.status, r.denials], ['ok', []]);
    const allowed = json(runCli(['audit', 'show', '--session', String(r.session), '--kind', 'gate.allowed', '--json'], home)) as Json[];
    assert.deepEqual(
      allowed.map((e) => [(e.body as Json).resource, (e.body as Json).token]),
      [
        [`fs.read:${project}/README.md`, once],
        ['bus.send:tool.fs.result', parent],
      ],
    );
    const shown = json(runCli(['token', 'show', once, '--json'], home)) as Json;
    assert.deepEqual([shown.status, shown.uses, (shown.token as Json).caveats], ['used-up', 1, [{type: 'single_use'}]]);

    const again = failsWith(runAs([once, parent], join(project, 'README.md')), 'TOKEN_NOT_ACTIVE');
    assert.deepEqual(again.details, {status: 'used-up'});
  });

  it('--session-budget: a session with no messages left cannot reply, one with no fuel cannot start; both are budget.exhausted in the ledger', () => {
    const noMsg = runAs([parent], join(project, 'README.md'), '--session-budget', 'messages=0');
    assert.equal(noMsg.status, 1, noMsg.stdout);
    const m = json(noMsg) as Json;
    assert.deepEqual([m.status, m.sends, m.activations], ['error', [], 1]);
    assert.deepEqual(
      (m.denials as Json[]).map((d) => [d.layer, d.rule, d.resource, d.reason]),
      [['budget', 'budget.messages', 'bus.send:tool.fs.result', 'the session has 0 messages left of 0; 1 wanted']],
    );

    const noFuel = runAs([parent], join(project, 'README.md'), '--session-budget', 'fuel=0');
    assert.equal(noFuel.status, 1, noFuel.stdout);
    const f = json(noFuel) as Json;
    assert.deepEqual([f.status, f.code, f.activations, f.fuelUsed, f.sends], ['error', 'BUDGET_EXHAUSTED', 0, 0, []]);

    const exhausted = json(runCli(['audit', 'show', '--kind', 'budget.exhausted', '--json'], home)) as Json[];
    const of = (s: unknown): Json[] => exhausted.filter((e) => e.session === s).map((e) => e.body as Json);
    const [msg] = of(m.session);
    assert.deepEqual([msg?.axis, msg?.limit, msg?.wanted, msg?.capsule], ['messages', 0, 1, 'fs-tool']);
    assert.match(String(msg?.scope), /^session\b/);
    const [fuel] = of(f.session);
    assert.deepEqual([fuel?.axis, fuel?.limit, fuel?.capsule], ['fuel', 0, 'fs-tool']);
    assert.match(String(fuel?.scope), /^session\b/);
  });

  it('revoking the parent revokes the child: run --token <child> is TOKEN_NOT_ACTIVE and grants/token show say why', () => {
    const r = ok(runCli(['revoke', parent, '--reason', 'done with it', '--json'], home));
    assert.deepEqual([r.id, r.already, r.descendants], [parent, false, [child]]);

    const e = failsWith(runAs([child], join(project, 'README.md')), 'TOKEN_NOT_ACTIVE');
    assert.deepEqual(e.details, {status: 'revoked'});
    assert.match(String(e.message), new RegExp(`ancestor ${parent} was revoked`));

    const helper = json(runCli(['grants', '--principal', 'helper', '--json'], home)) as Json[];
    assert.deepEqual(
      helper.map((t) => [t.id, t.status, t.reason]),
      [[child, 'revoked', `its ancestor ${parent} was revoked`]],
    );
    const shown = json(runCli(['token', 'show', child, '--json'], home)) as Json;
    assert.deepEqual(
      (shown.chain as Json[]).map((c) => [c.id, c.subject]),
      [
        [child, 'helper'],
        [parent, 'researcher'],
      ],
    );
    assert.equal((shown.chain as Json[]).at(-1)?.issuer, 'owner');
    assert.deepEqual([shown.status, shown.reason], ['revoked', `its ancestor ${parent} was revoked`]);
    assert.match(String(shown.text), /^astrid-token\./);
    const researcher = json(runCli(['grants', '--principal', 'researcher', '--json'], home)) as Json[];
    const p = researcher.find((t) => t.id === parent);
    assert.deepEqual([p?.status, p?.revoked, p?.reason], ['revoked', true, `${parent} was revoked`]);

    failsWith(runCli(['token', 'attenuate', parent, '--to', 'helper', '--json'], home), 'TOKEN_NOT_ACTIVE');
    assert.equal(ok(runCli(['revoke', parent, '--json'], home)).already, true);
  });

  it('errors: one {"error"} object, exit 1 for refusals and 2 for usage errors', async () => {
    // refused while parsing, before the ledger is opened: these may run side by side
    const [noTo, noResource, noParentTo, badId, noRevokeId] = await Promise.all([
      runCliAsync(['grant', '--resource', 'kv:notes', '--json'], home),
      runCliAsync(['grant', '--to', 'researcher', '--json'], home),
      runCliAsync(['token', 'attenuate', child, '--json'], home),
      runCliAsync(['token', 'show', 'not-a-token', '--json'], home),
      runCliAsync(['revoke', '--json'], home),
    ]);
    for (const r of [noTo, noResource, noParentTo, noRevokeId]) {
      const e = failsWith(r, 'INPUT_INVALID', 2);
      assert.deepEqual(e.details, {usage: true});
    }
    assert.match(String((json(noTo) as {error: Json}).error.message), /Missing required flag to/);
    failsWith(badId, 'TOKEN_INVALID');

    failsWith(runCli(['grant', '--to', 'nobody', '--resource', 'kv:notes', '--json'], home), 'PRINCIPAL_NOT_FOUND');
    failsWith(runCli(['principal', 'create', 'researcher', '--json'], home), 'PRINCIPAL_EXISTS');
    failsWith(runCli(['principal', 'create', 'Not_A_Name', '--json'], home), 'INPUT_INVALID');
    failsWith(runCli(['grant', '--to', 'researcher', '--resource', 'kv:notes', '--expires', 'soon', '--json'], home), 'INPUT_INVALID');
    const rel = runCli(['grant', '--to', 'researcher', '--resource', 'fs.read:relative/**', '--json'], home);
    assert.equal(rel.status, 1, rel.stdout);
    const relErr = (json(rel) as {error: Json}).error;
    assert.match(String(relErr.code), /^(RESOURCE|TOKEN|INPUT)_INVALID$/);
    assert.match(String(relErr.message), /must be an absolute path/);
    failsWith(runAs(['tk_00000000000000000000000000000000'], join(project, 'README.md')), 'TOKEN_NOT_FOUND');

    // for people: `error CODE: message` on stderr, nothing on stdout
    const human = runCli(['token', 'show', 'tk_00000000000000000000000000000000'], home);
    assert.equal(human.status, 1);
    assert.equal(human.stdout, '');
    assert.match(human.stderr, /^error TOKEN_NOT_FOUND: no token tk_0{32}$/m);
  });

  it('the ledger verifies after all of it', () => {
    const r = ok(runCli(['audit', 'verify', '--json'], home));
    assert.equal(r.ok, true, JSON.stringify(r));
  });
});

describe('astrid run --ask, approvals, approve, deny: a human in the loop', () => {
  const {root, home, pkg, cleanup} = fsToolWorld('astrid-e2e-approvals-');
  const other = (f: string): string => join(root, 'other', f);
  let token = '';
  const runOn = (path: string, ...extra: string[]): Json =>
    ok(runCli(['run', 'fs-tool', '--token', token, ...extra, '--topic', 'tool.fs.read', '--input', JSON.stringify({path}), '--json'], home));
  /** Denied with the given layer and rule, and fs-tool told so. */
  const denied = (r: Json, path: string, layer: string, rule: string): Json => {
    assert.deepEqual((r.sends as Json[]).map((s) => s.payload), [{ok: false, op: 'read', path, code: 'DENIED'}]);
    const ds = r.denials as Json[];
    assert.deepEqual(ds.map((d) => [d.layer, d.rule, d.resource]), [[layer, rule, `fs.read:${path}`]]);
    return ds[0] as Json;
  };
  /** Read through, the reply holding the file. */
  const readOk = (r: Json, path: string): void => {
    assert.deepEqual([r.status, r.denials], ['ok', []], JSON.stringify(r.denials));
    const reply = (r.sends as Json[])[0]?.payload as Json;
    assert.deepEqual([reply.ok, reply.path], [true, path]);
    assert.ok(holdsBytes(reply.data, `${path.slice(path.lastIndexOf('/') + 1)}\n`));
  };
  /** run --ask on `path`: denied pending a human; returns the approval id. */
  const ask = (path: string): {id: string; session: string} => {
    const r = runOn(path, '--ask');
    assert.equal(r.status, 'ok');
    const d = denied(r, path, 'approval', 'approval-pending');
    const m = /approval (ap-[0-9a-f]{16}) is waiting for a human/.exec(String(d.reason));
    assert.ok(m !== null, String(d.reason));
    return {id: m[1] as string, session: String(r.session)};
  };
  const approvals: string[] = [];

  before(() => {
    assert.equal(runCli(['capsule', 'install', pkg, '--json'], home).status, 0);
    assert.equal(runCli(['principal', 'create', 'researcher', '--json'], home).status, 0);
    token = String(ok(runCli(['grant', '--to', 'researcher', '--resource', `fs.read:${root}/project/**`, '--resource', 'bus.send:tool.fs.*', '--json'], home)).id);
  });
  after(cleanup);

  it('run --ask on an uncovered path opens an approval request, which approvals lists', () => {
    const {id, session} = ask(other('once.txt'));
    approvals.push(id);
    const pending = json(runCli(['approvals', '--json'], home)) as Json[];
    assert.equal(pending.length, 1);
    const a = pending[0] as Json;
    assert.deepEqual(
      [a.id, a.status, a.session, a.principal, a.capsule, a.resource, a.scope, a.by, a.token],
      [id, 'pending', session, 'researcher', 'fs-tool', `fs.read:${other('once.txt')}`, '', '', ''],
    );
    assert.match(String(a.expires), /^\d{4}-\d{2}-\d{2}T/);
    const human = runCli(['approvals'], home);
    assert.match(human.stdout, new RegExp(`^${id} pending +researcher/fs-tool fs\\.read:${other('once.txt')} `, 'm'));
  });

  it('approve --scope once lets exactly one later run through; the next asks again', () => {
    const [id] = approvals;
    const a = ok(runCli(['approve', String(id), '--scope', 'once', '--json'], home));
    assert.deepEqual([a.id, a.status, a.scope, a.by, a.token], [id, 'approved', 'once', 'owner', '']);
    assert.deepEqual(json(runCli(['approvals', '--json'], home)), []);

    const r = runOn(other('once.txt'));
    readOk(r, other('once.txt'));
    const allowed = json(runCli(['audit', 'show', '--session', String(r.session), '--kind', 'gate.allowed', '--json'], home)) as Json[];
    assert.deepEqual(
      allowed.map((e) => [(e.body as Json).layer, (e.body as Json).rule, (e.body as Json).resource]),
      [
        ['approval', `approval:${String(id)}`, `fs.read:${other('once.txt')}`],
        ['token', 'bus.send:tool.fs.*', 'bus.send:tool.fs.result'],
      ],
    );
    // used up: the same request asks a human again, under a new approval
    const next = ask(other('once.txt'));
    assert.notEqual(next.id, id);
    approvals.push(next.id);
  });

  it('deny answers a pending approval; a second answer is APPROVAL_ANSWERED, an unknown id APPROVAL_NOT_FOUND', async () => {
    const id = String(approvals[1]);
    const d = ok(runCli(['deny', id, '--reason', 'not this file', '--json'], home));
    assert.deepEqual([d.id, d.status, d.scope, d.by], [id, 'denied', '', 'owner']);
    assert.match(String(failsWith(runCli(['deny', id, '--json'], home), 'APPROVAL_ANSWERED').message), /already denied/);
    failsWith(runCli(['approve', id, '--scope', 'always', '--json'], home), 'APPROVAL_ANSWERED');
    denied(runOn(other('once.txt')), other('once.txt'), 'token', 'no-token');

    failsWith(runCli(['approve', 'ap-0000000000000000', '--json'], home), 'APPROVAL_NOT_FOUND');
    failsWith(runCli(['deny', 'ap-0000000000000000', '--json'], home), 'APPROVAL_NOT_FOUND');
    const usage = await Promise.all([runCliAsync(['approve', id, '--scope', 'forever', '--json'], home), runCliAsync(['approve', '--json'], home), runCliAsync(['deny', '--json'], home)]);
    for (const r of usage) assert.deepEqual(failsWith(r, 'INPUT_INVALID', 2).details, {usage: true});
  });

  it('approve --scope session reaches only the session that asked (it does not carry into a later run)', () => {
    const {id} = ask(other('session.txt'));
    approvals.push(id);
    assert.equal(ok(runCli(['approve', id, '--scope', 'session', '--json'], home)).scope, 'session');
    denied(runOn(other('session.txt')), other('session.txt'), 'token', 'no-token');
  });

  it('approve --scope always mints a token, listed by grants, that covers exactly that one file', () => {
    const {id} = ask(other('always.txt'));
    approvals.push(id);
    const a = ok(runCli(['approve', id, '--scope', 'always', '--json'], home));
    assert.deepEqual([a.status, a.scope], ['approved', 'always']);
    const minted = String(a.token);
    assert.match(minted, TOKEN_ID);

    const grants = json(runCli(['grants', '--principal', 'researcher', '--json'], home)) as Json[];
    assert.deepEqual(
      grants.map((t) => [t.id, t.status, t.via]),
      [
        [token, 'active', 'cli'],
        [minted, 'active', `approval:${id}`],
      ],
    );
    const t = (grants[1] as Json).token as Json;
    assert.deepEqual([t.subject, t.resources, t.parent], ['researcher', [`fs.read:${other('always.txt')}`], null]);

    const r = runOn(other('always.txt'));
    readOk(r, other('always.txt'));
    const allowed = json(runCli(['audit', 'show', '--session', String(r.session), '--kind', 'gate.allowed', '--json'], home)) as Json[];
    assert.equal((allowed.find((e) => (e.body as Json).resource === `fs.read:${other('always.txt')}`)?.body as Json | undefined)?.token, minted);
    denied(runOn(other('sibling.txt')), other('sibling.txt'), 'token', 'no-token');

    const all = json(runCli(['approvals', '--all', '--json'], home)) as Json[];
    assert.deepEqual(
      all.map((x) => [x.id, x.status, x.scope]),
      [
        [approvals[0], 'approved', 'once'],
        [approvals[1], 'denied', ''],
        [approvals[2], 'approved', 'session'],
        [approvals[3], 'approved', 'always'],
      ],
    );
  });

  it('the ledger verifies after all of it', () => {
    const r = ok(runCli(['audit', 'verify', '--json'], home));
    assert.equal(r.ok, true, JSON.stringify(r));
  });
});
