/**
 * The daemon from outside: the real `astrid` binary starting a real daemon on a real Unix
 * socket over a real LevelDB ledger. Hostile cases first: a second daemon, wrong tokens and
 * versions, fuzzed frames, a SIGKILL mid-session; then many clients, and every command
 * behaving the same with and without the daemon.
 */
import {describe, it, before, after} from 'node:test';
import {strict as assert} from 'node:assert';
import {createConnection, type Socket} from 'node:net';
import {readFileSync, existsSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runCli, runCliAsync, tmpDir, cliJson, cliOk, cliFails, repoRoot, type Json} from '../helpers/index.js';
import {watCapsule} from '../helpers/wat-capsule.js';
import {encodeFrame, FrameDecoder, PROTOCOL_VERSION, type UplinkMessage} from '../../src/protocol/index.js';
import {DAEMON_NODE_FLAGS, openAuthority, openKernelState} from '../../src/kernel/index.js';
import {xorshift32} from '../helpers/prng.js';
import {ClassicLevel} from 'classic-level';
import {spawn} from 'node:child_process';

const ECHO = join(repoRoot, 'capsules', 'echo');

function start(home: string): Json {
  return cliOk(runCli(['start', '--json'], home));
}

function stop(home: string): void {
  runCli(['stop', '--json'], home);
}

function status(home: string): Json {
  return cliOk(runCli(['status', '--json'], home));
}

/** Open a raw socket to the daemon and collect what it sends until it closes. */
function raw(home: string): Promise<{socket: Socket; received: UplinkMessage[]; closed: Promise<void>}> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(home, 'run', 'astrid.sock'));
    const received: UplinkMessage[] = [];
    const dec = new FrameDecoder();
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('data', (b: Buffer) => {
      try {
        received.push(...dec.push(new Uint8Array(b)));
      } catch {
        // a broken reply is the test's to notice
      }
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({socket, received, closed}));
    socket.once('error', reject);
  });
}

const token = (home: string): string => readFileSync(join(home, 'run', 'token'), 'utf8').trim();

describe('daemon: one home, one daemon', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-');
  before(() => start(home));
  after(() => {
    stop(home);
    cleanup();
  });

  it('a second daemon on the same home is refused (background and foreground)', () => {
    const again = cliFails(runCli(['start', '--json'], home), 'DAEMON_RUNNING');
    assert.match(String(again.message), /already serves/);
    cliFails(runCli(['start', '--foreground', '--json'], home), 'DAEMON_RUNNING');
    assert.equal(status(home).running, true);
  });

  it('the run directory is private: directory 0700, socket and token 0600', () => {
    assert.equal(statSync(join(home, 'run')).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, 'run', 'astrid.sock')).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, 'run', 'token')).mode & 0o777, 0o600);
    assert.ok(statSync(join(home, 'run', 'astrid.sock')).isSocket());
  });

  it('inspect actor lists the owner and one actor per kernel service; an id shows one', () => {
    const all = cliJson(runCli(['inspect', 'actor', '--json'], home)) as Json[];
    const ids = all.map((x) => x.id);
    for (const id of ['principal:owner', 'service:fs.write', 'service:http', 'service:approval', 'service:spawn']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    const one = cliJson(runCli(['inspect', 'actor', 'service:http', '--json'], home)) as Json[];
    assert.deepEqual(one.map((x) => [x.id, x.kind, x.state]), [['service:http', 'service', 'idle']]);
  });

  it('the background daemon runs under the daemon node flags', {skip: process.platform !== 'linux' && 'reads /proc'}, () => {
    const pid = status(home).pid as number;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const f of DAEMON_NODE_FLAGS) assert.ok(argv.includes(f), `${f} in ${argv.join(' ')}`);
  });

  it('a client with a wrong token is refused, recorded, and nothing else happens', async () => {
    const c = await raw(home);
    const wrong = token(home).replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
    c.socket.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token: wrong, client: 'intruder'}));
    c.socket.write(encodeFrame({t: 'req', id: 1, op: 'audit.note', args: {text: 'smuggled'}}));
    await c.closed;
    assert.deepEqual(c.received.map((m) => m.t), ['refused']);
    assert.equal((c.received[0] as {code: string}).code, 'UPLINK_AUTH_FAILED');
    const refused = cliOk(runCli(['audit', 'show', '--kind', 'uplink.refused', '--json'], home)) as unknown as Json[];
    assert.ok(refused.some((e) => (e.body as Json).code === 'UPLINK_AUTH_FAILED'));
    const notes = cliOk(runCli(['audit', 'show', '--kind', 'note', '--json'], home)) as unknown as Json[];
    assert.ok(!notes.some((e) => (e.body as Json).text === 'smuggled'));
  });

  it('a wrong protocol version and a request before hello are refused', async () => {
    const a = await raw(home);
    a.socket.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION + 1, token: token(home), client: 'future'}));
    await a.closed;
    assert.equal((a.received[0] as {code: string}).code, 'UPLINK_VERSION');
    const b = await raw(home);
    b.socket.write(encodeFrame({t: 'req', id: 1, op: 'kernel.status', args: {}}));
    await b.closed;
    assert.equal((b.received[0] as {code: string}).code, 'UPLINK_AUTH_FAILED');
  });

  it('fuzzed frames (random bytes, a huge length, truncated frames, garbage after hello) close only that connection', async () => {
    const next = xorshift32(0xa57d);
    const prng = {int: (n: number): number => next() % n};
    const cases: Array<(s: Socket) => void> = [
      (s) => s.write(Buffer.from(Array.from({length: 512}, () => prng.int(256)))),
      (s) => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
      (s) => s.write(Buffer.from([0x00, 0x00, 0x00, 0x00])),
      (s) => {
        const f = encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token: token(home), client: 'cut'});
        s.write(f.subarray(0, f.length - 3));
        s.end();
      },
      (s) => {
        s.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token: token(home), client: 'fuzz'}));
        s.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
      },
      (s) => {
        s.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token: token(home), client: 'fuzz'}));
        s.write(encodeFrame({t: 'res', id: 1, value: 1}));
      },
    ];
    for (let i = 0; i < 40; i++) cases.push((s) => s.write(Buffer.from(Array.from({length: 1 + prng.int(64)}, () => prng.int(256)))));
    const live = await raw(home);
    live.socket.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token: token(home), client: 'bystander'}));
    for (const f of cases) {
      const c = await raw(home);
      f(c.socket);
      setTimeout(() => c.socket.destroy(), 300).unref();
      await c.closed;
    }
    // the daemon is up, and a connection opened before the fuzzing still works
    live.socket.write(encodeFrame({t: 'req', id: 7, op: 'kernel.status', args: {}}));
    for (let i = 0; i < 100 && !live.received.some((m) => m.t === 'res'); i++) await new Promise((r) => setTimeout(r, 20));
    const res = live.received.find((m) => m.t === 'res') as {value: Json} | undefined;
    assert.equal(res?.value.running, true);
    live.socket.destroy();
    const closed = cliOk(runCli(['audit', 'show', '--kind', 'uplink.closed', '--json'], home)) as unknown as Json[];
    assert.ok(closed.some((e) => (e.body as Json).code === 'PROTOCOL_MALFORMED'), 'a malformed frame after the handshake is recorded');
    assert.equal(status(home).running, true);
  });

  it('an unknown operation and bad arguments are answered with stable codes, the connection stays usable', async () => {
    const c = await raw(home);
    c.socket.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token: token(home), client: 't'}));
    c.socket.write(encodeFrame({t: 'req', id: 1, op: 'kernel.reboot', args: {}}));
    c.socket.write(encodeFrame({t: 'req', id: 2, op: 'audit.note', args: {text: 5}}));
    c.socket.write(encodeFrame({t: 'req', id: 3, op: 'audit.note', args: {text: 'ok', extra: true}}));
    c.socket.write(encodeFrame({t: 'req', id: 4, op: 'capsule.install', args: {dir: 'relative/path'}}));
    c.socket.write(encodeFrame({t: 'req', id: 5, op: 'kernel.status', args: {}}));
    for (let i = 0; i < 200 && c.received.filter((m) => m.t === 'res' || m.t === 'err').length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    const by = new Map(c.received.filter((m) => m.t === 'res' || m.t === 'err').map((m) => [(m as {id: number}).id, m]));
    assert.equal((by.get(1) as {code: string}).code, 'OP_UNKNOWN');
    assert.equal((by.get(2) as {code: string}).code, 'INPUT_INVALID');
    assert.equal((by.get(3) as {code: string}).code, 'INPUT_INVALID');
    assert.equal((by.get(4) as {code: string}).code, 'INPUT_INVALID');
    assert.equal(by.get(5)?.t, 'res');
    c.socket.destroy();
  });

  it('two CLI clients at once: every acknowledged note is in the ledger, once, and the chain verifies', async () => {
    const n = 12;
    const a = Array.from({length: n}, (_, i) => runCliAsync(['audit', 'note', `a-${i}`, '--json'], home));
    const b = Array.from({length: n}, (_, i) => runCliAsync(['audit', 'note', `b-${i}`, '--json'], home));
    const results = await Promise.all([...a, ...b]);
    const seqs = results.map((r) => cliOk(r).seq as number);
    assert.equal(new Set(seqs).size, 2 * n);
    const notes = cliOk(runCli(['audit', 'show', '--kind', 'note', '--json'], home)) as unknown as Json[];
    const texts = notes.map((e) => (e.body as Json).text);
    for (let i = 0; i < n; i++) {
      assert.equal(texts.filter((t) => t === `a-${i}`).length, 1);
      assert.equal(texts.filter((t) => t === `b-${i}`).length, 1);
    }
    const v = cliOk(runCli(['audit', 'verify', '--json'], home));
    assert.equal(v.ok, true);
  });

  it('astrid run goes through the daemon and says so; status and sessions see it', () => {
    cliOk(runCli(['capsule', 'install', ECHO, '--json'], home));
    const r = cliOk(runCli(['run', 'echo', '--grant', 'bus.send:echo.>', '--topic', 'echo.hello', '--input', '{"text":"hi"}', '--json'], home));
    assert.equal(r.where, 'daemon');
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.sends, [{topic: 'echo.reply', payload: {text: 'hi'}}]);
    const human = runCli(['run', 'echo', '--grant', 'bus.send:echo.>', '--topic', 'echo.hello', '--input', '{"text":"yo"}'], home);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /started in the daemon/);
    const s = cliOk(runCli(['session', 'show', r.session as string, '--json'], home));
    assert.equal(s.status, 'ok');
    assert.equal(s.capsule, 'echo');
    const all = cliOk(runCli(['sessions', '--all', '--json'], home)) as unknown as Json[];
    assert.ok(all.some((x) => x.id === r.session));
    const st = status(home);
    assert.deepEqual((st.capsules as Json[]).map((c) => c.name), ['echo']);
    assert.ok(((st.sessions as Json).total as number) >= 2);
    cliFails(runCli(['session', 'end', r.session as string, '--json'], home), 'SESSION_NOT_RUNNING');
    cliFails(runCli(['session', 'show', 's-0000000000000000', '--json'], home), 'SESSION_NOT_FOUND');
  });

  it('run --ask --wait pauses on an approval; another terminal approves; the message is delivered again and passes', async () => {
    const running = runCliAsync(['run', 'echo', '--ask', '--wait', '--topic', 'echo.hello', '--input', '{"text":"may I?"}', '--json'], home);
    let pending: Json[] = [];
    for (let i = 0; i < 300 && pending.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pending = cliOk(runCli(['approvals', '--json'], home)) as unknown as Json[];
    }
    assert.equal(pending.length, 1, 'the session asked');
    assert.equal(pending[0]?.resource, 'bus.send:echo.reply');
    cliOk(runCli(['approve', pending[0]?.id as string, '--scope', 'once', '--json'], home));
    const r = cliOk(await running);
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.deepEqual(r.sends, [{topic: 'echo.reply', payload: {text: 'may I?'}}]);
    const used = cliOk(runCli(['audit', 'show', '--session', r.session as string, '--kind', 'approval.used', '--json'], home)) as unknown as Json[];
    assert.equal(used.length, 1, 'the once-approval was used by the retry');
  });

  it('astrid watch streams a session\'s events and messages from the bus, each with the seq that records it', async () => {
    const before = (status(home).connections as number) ?? 0;
    const watching = runCliAsync(['watch', 'echo.>', 'kernel.session.*', '--limit', '3', '--timeout', '60', '--json'], home);
    for (let i = 0; i < 200 && ((status(home).connections as number) ?? 0) <= before; i++) await new Promise((r) => setTimeout(r, 50));
    const r = cliOk(runCli(['run', 'echo', '--grant', 'bus.send:echo.>', '--topic', 'echo.hello', '--input', '{"text":"watched"}', '--json'], home));
    const w = cliOk(await watching);
    assert.equal(w.reason, 'limit');
    const msgs = w.messages as Json[];
    assert.deepEqual(msgs.map((m) => m.topic), ['kernel.session.started', 'echo.reply', 'kernel.session.ended']);
    assert.ok(msgs.every((m) => m.session === r.session));
    assert.deepEqual(msgs[1]?.payload, {text: 'watched'});
    const recorded = cliOk(runCli(['audit', 'show', '--session', r.session as string, '--json'], home)) as unknown as Json[];
    for (const m of msgs) assert.ok(recorded.some((e) => e.seq === m.seq), `#${String(m.seq)} is in the ledger`);
    cliFails(runCli(['watch', 'Not A Pattern', '--limit', '1', '--json'], home), 'INPUT_INVALID');
  });
});

describe('daemon: commands behave the same with and without it', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-same-');
  after(() => {
    stop(home);
    cleanup();
  });

  /** Run the same script of commands, returning each --json result with volatile fields removed. */
  function script(tag: string): unknown[] {
    const out: unknown[] = [];
    const strip = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(strip);
      if (v !== null && typeof v === 'object') {
        const o: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) if (!['seq', 'hash', 'id', 'key', 'time', 'installedSeq', 'session', 'tokens', 'chain', 'token', 'text', 'expires', 'name'].includes(k)) o[k] = strip(x);
        return o;
      }
      return v;
    };
    const step = (args: string[]): void => {
      const r = runCli([...args, '--json'], home);
      out.push({args: args.join(' ').replace(tag, 'TAG'), status: r.status, value: strip(JSON.parse(r.stdout || 'null'))});
    };
    step(['principal', 'create', `p-${tag}`]);
    step(['principal', 'create', 'Bad Name']);
    step(['capsule', 'list']);
    step(['capsule', 'inspect', 'nope']);
    step(['grant', '--to', 'nobody', '--resource', 'kv:x']);
    step(['grant', '--to', 'owner', '--resource', 'fs.read:relative']);
    step(['token', 'show', 'tk_00000000000000000000000000000000']);
    step(['approvals', '--all']);
    step(['approve', 'ap-0000000000000000', '--scope', 'once']);
    step(['audit', 'show', '--kind', 'nope']);
    step(['audit', 'note', '']);
    step(['run', 'missing-capsule']);
    step(['session', 'show', 's-0000000000000000']);
    return out;
  }

  it('the same script gives the same results and exit codes in-process and through the daemon', () => {
    const local = script('local');
    start(home);
    const viaDaemon = script('daemon');
    assert.deepEqual(viaDaemon, local);
  });
});

describe('daemon: SIGKILL mid-session, restart, same state', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-kill-');
  const {dir: pkgs, cleanup: cleanPkgs} = tmpDir('astrid-daemon-pkgs-');
  after(() => {
    stop(home);
    cleanup();
    cleanPkgs();
  });

  it('acknowledged entries survive, the chain verifies, state hashes match, the interrupted session can be ended', async () => {
    start(home);
    cliOk(runCli(['capsule', 'install', ECHO, '--json'], home));
    const loop = await watCapsule(pkgs, {fixture: 'infinite-loop', name: 'spinner', handles: ['test.>'], budget: {fuel: 10_000_000_000, wall_ms: 600_000}});
    cliOk(runCli(['capsule', 'install', loop, '--json'], home));
    cliOk(runCli(['principal', 'create', 'agent-a', '--json'], home));
    const g = cliOk(runCli(['grant', '--to', 'agent-a', '--resource', 'kv:notes', '--resource', 'bus.send:echo.>', '--json'], home));
    cliOk(runCli(['run', 'echo', '--grant', 'bus.send:echo.>', '--topic', 'echo.hello', '--json'], home));
    // a pending approval: no token covers echo.reply, and the run asks
    runCli(['run', 'echo', '--ask', '--topic', 'echo.hello', '--json'], home);
    const pending = cliOk(runCli(['approvals', '--json'], home)) as unknown as Json[];
    assert.equal(pending.length, 1);
    const notes: number[] = [];
    for (let i = 0; i < 5; i++) notes.push(cliOk(runCli(['audit', 'note', `before-kill-${i}`, '--json'], home)).seq as number);
    const before = status(home);

    // a session that will still be running when the daemon dies: the client prints its id
    // as soon as the session exists (its entries are durable before the capsule runs)
    const spinner = spawn(process.execPath, [join(repoRoot, 'bin', 'run.js'), 'run', 'spinner', '--topic', 'test.go'], {env: {...process.env, ASTRID_HOME: home}});
    let out = '';
    const exited = new Promise<number | null>((r) => spinner.on('close', (code) => r(code)));
    const sid = await new Promise<string>((resolve, reject) => {
      spinner.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /session (s-[0-9a-f]{16}) started in the daemon/.exec(out);
        if (m) resolve(m[1] as string);
      });
      setTimeout(() => reject(new Error(`no session line: ${out}`)), 30_000).unref();
    });
    await new Promise((r) => setTimeout(r, 300));
    process.kill(before.pid as number, 'SIGKILL');
    assert.notEqual(await exited, 0, 'the client sees its daemon die');

    const again = start(home);
    assert.notEqual(again.pid, before.pid);
    const after = status(home);
    const parts = (after.state as Json).parts as Json;
    const was = (before.state as Json).parts as Json;
    // what the spinner session did is in the ledger now; everything else is exactly as it was
    assert.equal(parts['kernel.authority'], was['kernel.authority']);
    assert.equal(parts['sandbox.kv'], was['sandbox.kv']);
    assert.equal(parts['sandbox.installed'], was['sandbox.installed']);
    assert.equal((after.approvals as Json).pending, 1);
    const shown = cliOk(runCli(['audit', 'show', '--kind', 'note', '--json'], home)) as unknown as Json[];
    for (const seq of notes) assert.ok(shown.some((e) => e.seq === seq), `acknowledged note #${seq} survived`);
    const v = cliOk(runCli(['audit', 'verify', '--json'], home));
    assert.equal(v.ok, true, JSON.stringify(v.issues));
    assert.equal(cliOk(runCli(['token', 'show', g.id as string, '--json'], home)).status, 'active');

    const s = cliOk(runCli(['session', 'show', sid, '--json'], home));
    assert.equal(s.status, 'running');
    assert.equal(s.live, false);
    const ended = cliOk(runCli(['session', 'end', sid, '--json'], home));
    assert.equal(ended.status, 'error');
    assert.equal(ended.code, 'SESSION_ENDED');

    // a restart with nothing in between gives identical state hashes
    const h1 = status(home).state as Json;
    stop(home);
    start(home);
    assert.deepEqual(status(home).state, h1);
  });
});

describe('daemon: stop', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-stop-');
  after(cleanup);

  it('astrid stop drains, records kernel.shutdown, signs a checkpoint and removes its files; status then exits 3', () => {
    start(home);
    cliOk(runCli(['audit', 'note', 'last words', '--json'], home));
    const r = cliOk(runCli(['stop', '--json'], home));
    assert.equal(r.stopped, true);
    for (const f of ['astrid.sock', 'token', 'astrid.pid']) assert.equal(existsSync(join(home, 'run', f)), false, f);
    const st = runCli(['status', '--json'], home);
    assert.equal(st.status, 3);
    assert.equal((JSON.parse(st.stdout) as Json).running, false);
    cliFails(runCli(['stop', '--json'], home), 'DAEMON_NOT_RUNNING');
    const v = cliOk(runCli(['audit', 'verify', '--json'], home));
    assert.equal(v.ok, true);
    assert.equal((v.issues as Json[]).length, 0, 'the shutdown checkpoint covers every entry');
    const last = cliOk(runCli(['audit', 'show', '--kind', 'kernel.shutdown', '--json'], home)) as unknown as Json[];
    assert.equal((last.at(-1)?.body as Json).reason, 'astrid stop');
  });
});

describe('daemon: a flooding capsule is throttled, its neighbour is not', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-flood-');
  const {dir: pkgs, cleanup: cleanPkgs} = tmpDir('astrid-daemon-flood-pkgs-');
  after(() => {
    stop(home);
    cleanup();
    cleanPkgs();
  });

  it('sends past the capsule quota get QUOTA with one recorded denial; echo in another session answers normally', async () => {
    writeFileSync(join(home, 'policy.toml'), '[quotas]\ncapsule_messages_per_second = 100\n', {mode: 0o600});
    start(home);
    const flood = await watCapsule(pkgs, {fixture: 'send-flood', name: 'flooder', handles: ['test.>'], sends: ['test.>']});
    cliOk(runCli(['capsule', 'install', flood, '--json'], home));
    cliOk(runCli(['capsule', 'install', ECHO, '--json'], home));
    const [f, e] = await Promise.all([
      runCliAsync(['run', 'flooder', '--grant', 'bus.send:test.>', '--topic', 'test.go', '--json'], home),
      runCliAsync(['run', 'echo', '--grant', 'bus.send:echo.>', '--topic', 'echo.hello', '--input', '{"text":"still here"}', '--json'], home),
    ]);
    const fr = cliOk(f);
    const sent = (fr.sends as Json[]).length;
    assert.ok(sent >= 100 && sent < 1000, `the burst passes, the flood does not (${sent} sent)`);
    const er = cliOk(e);
    assert.equal(er.status, 'ok');
    assert.deepEqual(er.sends, [{topic: 'echo.reply', payload: {text: 'still here'}}]);
    const denied = (cliOk(runCli(['audit', 'show', '--session', fr.session as string, '--kind', 'gate.denied', '--json'], home)) as unknown as Json[]).map((x) => x.body as Json);
    assert.equal(denied.filter((d) => d.layer === 'quota' && d.rule === 'bus.rate').length, 1, JSON.stringify(denied));
    const msgs = cliOk(runCli(['audit', 'show', '--session', fr.session as string, '--kind', 'bus.message', '--json'], home)) as unknown as Json[];
    assert.equal(msgs.filter((m) => (m.body as Json).topic === 'test.flood').length, sent, 'only admitted sends are messages');
  });

  it('a policy that tries to raise a quota is refused with POLICY_INVALID', () => {
    const {dir: h2, cleanup: c2} = tmpDir('astrid-daemon-policy-');
    try {
      writeFileSync(join(h2, 'policy.toml'), '[quotas]\ncapsule_messages_per_second = 99999999\n', {mode: 0o600});
      cliOk(runCli(['capsule', 'install', ECHO, '--json'], h2));
      cliFails(runCli(['run', 'echo', '--grant', 'bus.send:echo.>', '--topic', 'echo.hello', '--json'], h2), 'POLICY_INVALID');
    } finally {
      c2();
    }
  });
});

describe('daemon: a tampered ledger', () => {
  const {dir, cleanup} = tmpDir('astrid-daemon-tamper-');
  after(cleanup);

  /** Flip one byte inside the stored body of entry `seq` (after its 32-byte hash). */
  async function flip(home: string, seq: number): Promise<void> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(home, 'ledger'), {keyEncoding: 'view', valueEncoding: 'view'});
    await db.open({createIfMissing: false});
    try {
      const k = new Uint8Array(9);
      k[0] = 'E'.charCodeAt(0);
      new DataView(k.buffer).setBigUint64(1, BigInt(seq));
      const v = Uint8Array.from((await db.get(k)) as Uint8Array);
      const at = v.length - 2;
      v[at] = (v[at] as number) ^ 0x01;
      await db.put(k, v);
    } finally {
      await db.close();
    }
  }

  it('below the last checkpoint: the daemon boots, the background check finds it and stops the daemon', async () => {
    const home = join(dir, 'prefix');
    start(home);
    const seqs = ['one', 'two', 'three'].map((t) => cliOk(runCli(['audit', 'note', t, '--json'], home)).seq as number);
    stop(home);
    await flip(home, seqs[1] as number);
    runCli(['start', '--json'], home); // may answer before the background check ends, or report the stop
    for (let i = 0; i < 100 && runCli(['status', '--json'], home).status === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(runCli(['status', '--json'], home).status, 3, 'the daemon stopped itself');
    const log = readFileSync(join(home, 'run', 'daemon.log'), 'utf8');
    assert.match(log, /full verification FAILED: ENTRY_MODIFIED at #\d+/);
    const v = runCli(['audit', 'verify', '--json'], home);
    assert.equal(v.status, 1);
    // --full-verify refuses before serving
    cliFails(runCli(['start', '--full-verify', '--json'], home), 'LEDGER_CORRUPT');
  });

  it('in the unsigned tail a crash left: the boot refuses with LEDGER_CORRUPT', async () => {
    const home = join(dir, 'tail');
    const anchored = (): number => (JSON.parse(readFileSync(join(home, 'keys', 'ledger.anchor'), 'utf8')) as {seq: number}).seq;
    // the daemon signs a checkpoint within seconds of news: kill it before one covers the note
    let seq = 0;
    for (let attempt = 0; attempt < 5 && seq === 0; attempt++) {
      const s = start(home);
      const n = cliOk(runCli(['audit', 'note', 'after the last checkpoint', '--json'], home)).seq as number;
      process.kill(s.pid as number, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      if (anchored() < n) seq = n;
    }
    assert.ok(seq > 0, 'a note outside every checkpoint');
    await flip(home, seq);
    const e = cliFails(runCli(['start', '--json'], home), 'LEDGER_CORRUPT');
    assert.match(String(e.message), new RegExp(`ENTRY_MODIFIED at #${seq}`));
  });
});

describe('daemon: its socket removed under it', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-orphan-');
  after(cleanup);

  it('stops itself within seconds (a daemon nobody can reach must not linger)', async () => {
    const s = start(home);
    rmSync(join(home, 'run', 'astrid.sock'));
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(s.pid as number, 0);
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, 'the daemon process is gone');
    const v = cliOk(runCli(['audit', 'verify', '--json'], home));
    assert.equal(v.ok, true);
  });
});

describe('daemon: answers larger than a frame', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-big-');
  after(() => {
    stop(home);
    cleanup();
  });

  it('audit show streams a ledger of several MiB through the daemon in chunks, in order, nothing lost', async () => {
    const k = await openKernelState({home, mode: 'write'});
    const text = 'x'.repeat(2000);
    const acks = await Promise.all(Array.from({length: 3000}, (_, i) => k.ledger.append({kind: 'note', body: {text: `${i} ${text}`}})));
    await k.close();
    start(home);
    const r = await runCliAsync(['audit', 'show', '--kind', 'note', '--limit', '5000', '--json'], home); // stdout is several MiB: not spawnSync's buffer
    const shown = cliOk(r) as unknown as Json[];
    assert.equal(shown.length, 3000);
    assert.deepEqual(
      shown.map((e) => e.seq),
      acks.map((a) => a.seq),
    );
    assert.ok(r.stdout.length > 6 * 1024 * 1024, 'more than a frame holds');
  });

  it('lists (grants) larger than a frame stream too', async () => {
    stop(home);
    const k = await openKernelState({home, mode: 'write'});
    const a = await openAuthority(k, 'write');
    for (let i = 0; i < 2500; i++) await a.grant({to: 'owner', resources: [`kv:ns${i}`, `fs.read:/srv/project-${i}/**`], via: 'test'});
    await k.close();
    start(home);
    const r = await runCliAsync(['grants', '--json'], home);
    const list = cliOk(r) as unknown as Json[];
    assert.ok(list.length >= 2500, `${list.length} tokens`);
    assert.ok(r.stdout.length > 1024 * 1024, 'more than a frame holds');
  });
});
