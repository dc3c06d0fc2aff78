// Proves: the real `astrid` binary keeps its contract: help with examples, private home layout, audit note/show/verify output and --json shapes, filters, --home, and stable error codes and exit statuses.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {chmodSync, existsSync, readFileSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {initHome, runCli, runCliAsync, tmpDir, type CliResult} from '../helpers/index.js';

type Json = Record<string, unknown>;

function parseJson(r: CliResult): unknown {
  try {
    return JSON.parse(r.stdout);
  } catch {
    return assert.fail(`stdout is not one JSON value (status ${r.status}): ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

function jsonObject(r: CliResult): Json {
  const v = parseJson(r);
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `expected a JSON object: ${r.stdout}`);
  return v as Json;
}

function jsonArray(r: CliResult): Json[] {
  const v = parseJson(r);
  assert.ok(Array.isArray(v), `expected a JSON array: ${r.stdout}`);
  for (const x of v) assert.ok(typeof x === 'object' && x !== null && !Array.isArray(x));
  return v as Json[];
}

function succeeded(r: CliResult): CliResult {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** `{"error": {code, message, details}}` on stdout. */
function jsonError(r: CliResult): Json {
  const e = jsonObject(r).error;
  assert.ok(typeof e === 'object' && e !== null, `no error object: ${r.stdout}`);
  const err = e as Json;
  assert.equal(typeof err.code, 'string');
  assert.equal(typeof err.message, 'string');
  return err;
}

const mode = (p: string): number => statSync(p).mode & 0o777;
const HEX64 = /^[0-9a-f]{64}$/;
const ZERO_HASH = '0'.repeat(64);

const COMMANDS = [
  ['start'],
  ['audit', 'note'],
  ['audit', 'show'],
  ['audit', 'verify'],
  ['audit', 'export'],
  ['key', 'show'],
] as const;

describe('astrid CLI: help', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-help-');
  after(cleanup);

  it('`astrid --help` lists the topics and commands; `astrid audit --help` and `astrid key --help` list theirs', async () => {
    const [top, audit, key] = await Promise.all([
      runCliAsync(['--help'], dir),
      runCliAsync(['audit', '--help'], dir),
      runCliAsync(['key', '--help'], dir),
    ]);
    succeeded(top);
    for (const w of ['start', 'audit', 'key']) assert.match(top.stdout, new RegExp(`^\\s+${w}\\s`, 'm'), `--help lacks ${w}`);
    succeeded(audit);
    for (const w of ['note', 'show', 'verify', 'export']) assert.match(audit.stdout, new RegExp(`^\\s+audit ${w}\\s`, 'm'), `audit --help lacks ${w}`);
    succeeded(key);
    assert.match(key.stdout, /^\s+key show\s/m);
  });

  it("each command's --help shows usage, flags and examples", async () => {
    const results = await Promise.all(COMMANDS.map((c) => runCliAsync([...c, '--help'], dir)));
    COMMANDS.forEach((c, i) => {
      const r = succeeded(results[i] as CliResult);
      const name = c.join(' ');
      assert.match(r.stdout, /^USAGE$/m, `${name} --help`);
      assert.match(r.stdout, /^EXAMPLES$/m, `${name} --help has no examples`);
      assert.match(r.stdout, new RegExp(`^\\s+\\$ astrid ${name}\\b`, 'm'), `${name} --help examples do not show the command`);
      assert.match(r.stdout, /--home=<dir>/, `${name} --help lacks --home`);
      assert.match(r.stdout, /--json/, `${name} --help lacks --json`);
    });
    // --help must not touch the state directory.
    assert.equal(existsSync(join(dir, 'keys')), false);
  });

  it('`astrid audit verify --help` documents --bundle, --pubkey and --expect-head <seq[:hash]>', async () => {
    const r = succeeded(await runCliAsync(['audit', 'verify', '--help'], dir));
    assert.match(r.stdout, /--bundle=<file>/);
    assert.match(r.stdout, /--pubkey=<key>/);
    assert.match(r.stdout, /--expect-head=<seq\[:hash\]>/);
  });
});

describe('astrid CLI: start on an empty home', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-start-');
  const home = join(dir, 'home'); // does not exist yet
  after(() => {
    runCli(['stop'], home);
    cleanup();
  });

  it('starts the daemon: creates keys/kernel.key 0600 and private (0700) directories, prints the status', () => {
    const r = succeeded(runCli(['start'], home));
    assert.match(r.stdout, /astrid daemon running \(pid \d+\)/);
    assert.match(r.stdout, /astrid stop/);
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, 'keys')), 0o700);
    assert.equal(mode(join(home, 'ledger')), 0o700);
    assert.equal(mode(join(home, 'ledger-aux')), 0o700);
    assert.equal(mode(join(home, 'run')), 0o700);
    assert.equal(mode(join(home, 'keys', 'kernel.key')), 0o600);
    assert.match(readFileSync(join(home, 'keys', 'kernel.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  });

  it('status --json reports the daemon, its kernel key and the ledger head; stop, and a second start boots again', () => {
    const pub = readFileSync(join(home, 'keys', 'kernel.pub'), 'utf8').trim();
    const j = jsonObject(succeeded(runCli(['status', '--json'], home)));
    assert.equal(j.running, true);
    assert.equal(j.home, home);
    assert.equal(j.kernelKey, pub);
    assert.equal(typeof j.pid, 'number');
    const head = j.head as Json;
    assert.match(head.hash as string, HEX64);
    succeeded(runCli(['stop'], home));
    const again = jsonObject(succeeded(runCli(['start', '--json'], home)));
    assert.notEqual(again.pid, j.pid);
    assert.ok(((again.head as Json).seq as number) > (head.seq as number));
    const boots = jsonArray(succeeded(runCli(['audit', 'show', '--json', '--kind', 'kernel.boot'], home)));
    assert.equal(boots.length, 2);
    succeeded(runCli(['stop'], home));
  });

  it('key show prints the public key that kernel.pub holds; --json gives {publicKey, path}', () => {
    const pub = readFileSync(join(home, 'keys', 'kernel.pub'), 'utf8').trim();
    assert.equal(succeeded(runCli(['key', 'show'], home)).stdout.trim(), pub);
    assert.deepEqual(jsonObject(succeeded(runCli(['key', 'show', '--json'], home))), {publicKey: pub, path: join(home, 'keys', 'kernel.key'), pubPath: join(home, 'keys', 'kernel.pub')});
  });
});

describe('astrid CLI: audit note, show, verify', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-audit-');
  const home = join(dir, 'home');
  const notes: Array<{seq: number; hash: string; text: string; session: string}> = [];
  let all: Json[] = [];

  before(async () => {
    initHome(home);
    const plan = [
      ['first note', 'cli'],
      ['second note, other session', 'incident-42'],
      ['third note', 'cli'],
      ['x'.repeat(4096), 'incident-42'], // the longest note allowed
    ] as const;
    for (const [text, session] of plan) {
      const r = succeeded(runCli(['audit', 'note', text, ...(session === 'cli' ? [] : ['--session', session])], home));
      const m = /^seq (\d+) hash ([0-9a-f]{64})$/m.exec(r.stdout);
      assert.ok(m, `audit note printed ${r.stdout}`);
      notes.push({seq: Number(m[1]), hash: m[2] as string, text, session});
    }
    all = jsonArray(succeeded(runCli(['audit', 'show', '--json'], home)));
  });
  after(cleanup);

  it('audit note prints `seq N hash H` for the entry it appended', () => {
    for (const n of notes) {
      const e = all.find((x) => x.seq === n.seq);
      assert.ok(e, `note ${n.seq} is not in audit show`);
      assert.equal(e.hash, n.hash);
      assert.equal(e.kind, 'note');
      assert.deepEqual(e.body, {text: n.text});
      assert.equal(e.session, n.session);
      assert.equal(e.principal, 'owner');
      assert.equal(e.actor, 'cli');
    }
  });

  it('audit note --json prints {seq, hash, time}', () => {
    const j = jsonObject(succeeded(runCli(['audit', 'note', 'json note', '--json'], home)));
    assert.deepEqual(Object.keys(j).sort(), ['hash', 'seq', 'time']);
    assert.equal(j.seq, (all.at(-1)?.seq as number) + 1);
    assert.match(j.hash as string, HEX64);
    assert.ok(Number.isSafeInteger(j.time) && (j.time as number) > 0);
    all = jsonArray(succeeded(runCli(['audit', 'show', '--json'], home)));
    assert.equal(all.at(-1)?.hash, j.hash);
  });

  it('audit show --json: every entry has the documented fields and each prev is the previous hash', () => {
    assert.ok(all.length >= 8);
    all.forEach((e, i) => {
      for (const f of ['seq', 'hash', 'prev', 'time', 'timeIso', 'kind', 'session', 'principal', 'actor', 'body']) {
        assert.ok(f in e, `entry ${i + 1} lacks ${f}`);
      }
      assert.equal(e.seq, i + 1);
      assert.match(e.hash as string, HEX64);
      assert.equal(e.prev, i === 0 ? ZERO_HASH : all[i - 1]?.hash, `entry ${e.seq} does not link to its predecessor`);
      assert.equal(new Date(e.timeIso as string).getTime(), e.time);
      if (i > 0) assert.ok((e.time as number) >= (all[i - 1]?.time as number), 'time went backwards');
    });
    assert.equal(all[0]?.kind, 'genesis');
  });

  it('audit show prints one line per entry', () => {
    const r = succeeded(runCli(['audit', 'show'], home));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, all.length);
    assert.match(lines[0] as string, /^#1\s+\S+\s+genesis\s/);
    assert.ok(lines.some((l) => l.includes('"first note"')));
  });

  it('audit show filters: --session, --kind, --actor, --from, --limit, combined', () => {
    // One at a time: LevelDB admits one process per ledger, readers included (docs/cli.md).
    const show = (...args: string[]): CliResult => runCli(['audit', 'show', '--json', ...args], home);
    const session = show('--session', 'incident-42');
    const kind = show('--kind', 'note');
    const boot = show('--kind', 'kernel.boot');
    const actor = show('--actor', 'cli');
    const from = show('--from', String(notes[1]?.seq));
    const limit = show('--limit', '2');
    const combo = show('--session', 'cli', '--kind', 'note', '--from', String(notes[1]?.seq), '--limit', '1');
    const none = show('--session', 'no-such-session');
    const seqs = (r: CliResult): number[] => jsonArray(succeeded(r)).map((e) => e.seq as number);
    const where = (f: (e: Json) => boolean): number[] => all.filter(f).map((e) => e.seq as number);
    assert.deepEqual(seqs(session), where((e) => e.session === 'incident-42'));
    assert.equal(seqs(session).length, 2);
    assert.deepEqual(seqs(kind), where((e) => e.kind === 'note'));
    assert.deepEqual(seqs(boot), where((e) => e.kind === 'kernel.boot'));
    assert.deepEqual(seqs(actor), where((e) => e.actor === 'cli'));
    assert.deepEqual(seqs(from), where((e) => (e.seq as number) >= (notes[1]?.seq as number)));
    assert.deepEqual(seqs(limit), [1, 2]);
    assert.deepEqual(seqs(combo), [notes[2]?.seq]);
    assert.deepEqual(seqs(none), []);
  });

  it('an unknown --kind, a bad --from or a missing argument is a usage error: exit 2, with --json too', async () => {
    // Usage errors are raised before the ledger is opened, so these may run at once.
    const [human, json, badFrom, noText] = await Promise.all([
      runCliAsync(['audit', 'show', '--kind', 'bogus'], home),
      runCliAsync(['audit', 'show', '--kind', 'bogus', '--json'], home),
      runCliAsync(['audit', 'show', '--from', '0'], home),
      runCliAsync(['audit', 'note', '--json'], home),
    ]);
    assert.equal(human.status, 2, human.stderr);
    assert.match(human.stderr, /^error INPUT_INVALID: .*bogus/m, 'the stable code on a terminal too');
    assert.equal(human.stdout, '');
    assert.equal(json.status, 2, json.stdout);
    const err = jsonError(json);
    assert.equal(err.code, 'INPUT_INVALID');
    assert.match(err.message as string, /bogus/);
    assert.equal(badFrom.status, 2, badFrom.stderr);
    assert.equal(noText.status, 2, noText.stdout);
    assert.equal(jsonError(noText).code, 'INPUT_INVALID');
  });

  it('a --session or --actor that no entry can carry is INPUT_INVALID (exit 1), not an empty list', async () => {
    const [session, actor] = await Promise.all([runCliAsync(['audit', 'show', '--session', 'bad/x', '--json'], home), runCliAsync(['audit', 'show', '--actor', '', '--json'], home)]);
    for (const r of [session, actor]) {
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.equal(jsonError(r).code, 'INPUT_INVALID');
    }
    assert.match(jsonError(session).message as string, /--session must be an id/);
  });

  it('audit verify --json on an intact ledger: exit 0, {ok, head: {seq, hash}, issues}', () => {
    const r = succeeded(runCli(['audit', 'verify', '--json'], home));
    const j = jsonObject(r);
    assert.equal(j.ok, true);
    const head = j.head as Json;
    assert.equal(head.seq, all.at(-1)?.seq);
    assert.equal(head.hash, all.at(-1)?.hash);
    assert.equal(j.entries, all.length);
    assert.ok(Array.isArray(j.issues));
    for (const i of j.issues as Json[]) {
      assert.equal(i.severity, 'warning');
      assert.equal(typeof i.code, 'string');
      assert.equal(typeof i.seq, 'number');
      assert.equal(typeof i.message, 'string');
    }
    const cps = j.checkpoints as Json;
    assert.equal(cps.lastSignedSeq, head.seq, 'each command closes with a checkpoint at the head');
    assert.equal(cps.valid, cps.count);
    const human = succeeded(runCli(['audit', 'verify'], home));
    assert.match(human.stdout, new RegExp(`^OK: ${all.length} entries, head #${head.seq} `, 'm'));
  });

  it('a note of 5000 characters is INPUT_INVALID (exit 1) and appends nothing; so is an empty one', () => {
    const long = runCli(['audit', 'note', 'y'.repeat(5000)], home);
    const longJson = runCli(['audit', 'note', 'y'.repeat(5000), '--json'], home);
    const empty = runCli(['audit', 'note', ''], home);
    assert.equal(long.status, 1, long.stderr);
    assert.match(long.stderr, /^error INPUT_INVALID: /m);
    assert.equal(long.stdout, '');
    assert.equal(longJson.status, 1);
    assert.equal(jsonError(longJson).code, 'INPUT_INVALID');
    assert.equal(empty.status, 1, empty.stderr);
    assert.match(empty.stderr, /^error INPUT_INVALID: /m);
    const now = jsonArray(succeeded(runCli(['audit', 'show', '--json', '--kind', 'note'], home)));
    assert.equal(now.length, notes.length + 1, 'a refused note was appended');
  });
});

describe('astrid CLI: home selection and key permissions', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-home-');
  after(cleanup);

  it('--home overrides ASTRID_HOME', () => {
    const envHome = join(dir, 'from-env');
    const flagHome = join(dir, 'from-flag');
    const r = succeeded(runCli(['audit', 'note', 'where am I', '--home', flagHome, '--json'], envHome));
    assert.equal(existsSync(envHome), false, 'ASTRID_HOME was used despite --home');
    assert.ok(existsSync(join(flagHome, 'keys', 'kernel.key')));
    const seq = jsonObject(r).seq;
    const shown = jsonArray(succeeded(runCli(['audit', 'show', '--json', '--kind', 'note'], flagHome)));
    assert.deepEqual(
      shown.map((e) => [e.seq, (e.body as Json).text]),
      [[seq, 'where am I']],
    );
  });

  it('an existing empty private home works; a home open to others (0755) is refused with KEY_PERMISSIONS_TOO_OPEN', () => {
    const {dir: empty, cleanup: done} = tmpDir('astrid-e2e-empty-');
    try {
      initHome(empty);
      assert.equal(mode(join(empty, 'keys', 'kernel.key')), 0o600);
      chmodSync(empty, 0o755);
      const r = runCli(['start'], empty);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^error KEY_PERMISSIONS_TOO_OPEN: .*chmod 700/m);
    } finally {
      done();
    }
  });

  it('a kernel key readable by others (0644) is refused with KEY_PERMISSIONS_TOO_OPEN, exit 1', async () => {
    const home = join(dir, 'loose-key');
    succeeded(runCli(['key', 'show'], home));
    const keyFile = join(home, 'keys', 'kernel.key');
    chmodSync(keyFile, 0o644);
    const [note, noteJson, start, show] = await Promise.all([
      runCliAsync(['audit', 'note', 'should not be written'], home),
      runCliAsync(['audit', 'note', 'should not be written', '--json'], home),
      runCliAsync(['start'], home),
      runCliAsync(['key', 'show'], home),
    ]);
    for (const r of [note, start, show]) {
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^error KEY_PERMISSIONS_TOO_OPEN: .*chmod 600/m);
    }
    assert.equal(noteJson.status, 1);
    assert.equal(jsonError(noteJson).code, 'KEY_PERMISSIONS_TOO_OPEN');
    assert.equal(mode(keyFile), 0o644, 'the CLI must refuse, not silently fix, the mode');
    chmodSync(keyFile, 0o600);
    const shown = jsonArray(succeeded(runCli(['audit', 'show', '--json', '--kind', 'note'], home)));
    assert.deepEqual(shown, [], 'nothing was appended with the loose key');
  });

  it('a keys directory open to others (0755) is refused with KEY_PERMISSIONS_TOO_OPEN', () => {
    const home = join(dir, 'loose-dir');
    succeeded(runCli(['key', 'show'], home));
    chmodSync(join(home, 'keys'), 0o755);
    const r = runCli(['audit', 'note', 'x'], home);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error KEY_PERMISSIONS_TOO_OPEN: /m);
  });
});
