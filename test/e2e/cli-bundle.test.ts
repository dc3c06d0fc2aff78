// Proves: `astrid audit export` writes a bundle that `astrid audit verify --bundle --pubkey` accepts with only the right public key, and rejects, naming the seq, when the key is another's or the bundle was edited.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runCli, runCliAsync, tmpDir, type CliResult} from '../helpers/index.js';

type Json = Record<string, unknown>;

interface Issue {
  readonly code: string;
  readonly seq: number;
  readonly severity: string;
}

function jsonObject(r: CliResult): Json {
  let v: unknown;
  try {
    v = JSON.parse(r.stdout);
  } catch {
    assert.fail(`stdout is not JSON (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), r.stdout);
  return v as Json;
}

function succeeded(r: CliResult): CliResult {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

const errorsOf = (j: Json): Issue[] => (j.issues as Issue[]).filter((i) => i.severity === 'error');

describe('astrid audit export and verify --bundle', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-bundle-');
  const home = join(dir, 'home');
  const other = join(dir, 'other');
  // Bundle verification must need nothing but the key: run it against a home that does not exist.
  const nowhere = join(dir, 'no-home');
  const bundle = join(dir, 'ledger.astrid');
  let pubFile = '';
  let pubHex = '';
  let exported: Json = {};
  let noteSeqs: number[] = [];

  /** Write a copy of the bundle with `edit` applied to its lines. */
  const variant = (name: string, edit: (lines: string[]) => string[]): string => {
    const p = join(dir, name);
    const lines = readFileSync(bundle, 'utf8').split('\n').filter((l) => l.length > 0);
    writeFileSync(p, edit(lines).join('\n') + '\n', {mode: 0o600});
    return p;
  };
  const verifyBundle = (file: string, key: string, json = false): Promise<CliResult> =>
    runCliAsync(['audit', 'verify', '--bundle', file, '--pubkey', key, ...(json ? ['--json'] : [])], nowhere);

  before(() => {
    succeeded(runCli(['start'], home));
    for (const t of ['alpha', 'beta', 'gamma', 'delta']) succeeded(runCli(['audit', 'note', `bundle note ${t}`], home));
    succeeded(runCli(['key', 'show'], other));
    pubFile = join(home, 'keys', 'kernel.pub');
    pubHex = readFileSync(pubFile, 'utf8').trim();
    const shown = JSON.parse(succeeded(runCli(['audit', 'show', '--json', '--kind', 'note'], home)).stdout) as Json[];
    noteSeqs = shown.map((e) => e.seq as number);
    exported = jsonObject(succeeded(runCli(['audit', 'export', '--out', bundle, '--json'], home)));
  });
  after(cleanup);

  it('export --json reports {path, entries, checkpoints, head, kernelKey} and writes a private file', () => {
    assert.equal(exported.path, bundle);
    assert.equal(exported.kernelKey, pubHex);
    const head = exported.head as Json;
    assert.equal(exported.entries, head.seq);
    assert.ok((exported.checkpoints as number) >= 1);
    assert.equal(statSync(bundle).mode & 0o777, 0o600);
    const lines = readFileSync(bundle, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1 + (exported.checkpoints as number) + (exported.entries as number) + 1);
    const header = JSON.parse(lines[0] as string) as Json;
    assert.equal(header.format, 'astrid-ledger-bundle');
    assert.deepEqual(header.head, head);
  });

  it('export prints what it wrote', () => {
    const r = succeeded(runCli(['audit', 'export', '--out', join(dir, 'again.astrid')], home));
    assert.match(r.stdout, /^wrote \d+ entries and \d+ checkpoints to /m);
    assert.match(r.stdout, new RegExp(`kernel public key: ${pubHex}`));
  });

  it('verify --bundle with --pubkey given as the kernel.pub file: exit 0', async () => {
    const [human, json] = await Promise.all([verifyBundle(bundle, pubFile), verifyBundle(bundle, pubFile, true)]);
    succeeded(human);
    assert.match(human.stdout, new RegExp(`^OK: ${exported.entries as number} entries`, 'm'));
    const j = jsonObject(succeeded(json));
    assert.equal(j.ok, true);
    assert.deepEqual(j.head, exported.head);
    assert.deepEqual(j.issues, []);
    assert.equal(existsSync(nowhere), false, 'verifying a bundle created a home');
  });

  it('verify --bundle with --pubkey given as hex on the command line: exit 0', async () => {
    const r = await verifyBundle(bundle, pubHex, true);
    assert.equal(jsonObject(succeeded(r)).ok, true);
  });

  it("verify --bundle with another home's key: exit 1, the checkpoints are foreign and genesis names another key", async () => {
    const otherPub = join(other, 'keys', 'kernel.pub');
    const [human, json] = await Promise.all([verifyBundle(bundle, otherPub), verifyBundle(bundle, readFileSync(otherPub, 'utf8').trim(), true)]);
    assert.equal(human.status, 1, human.stdout);
    assert.match(human.stdout, /^FAILED: /m);
    assert.match(human.stdout, /ERROR CHECKPOINT_FOREIGN_KEY at #\d+/);
    assert.equal(json.status, 1);
    const j = jsonObject(json);
    assert.equal(j.ok, false);
    const codes = new Set(errorsOf(j).map((i) => i.code));
    assert.ok(codes.has('CHECKPOINT_FOREIGN_KEY'), JSON.stringify(j.issues));
    assert.ok(errorsOf(j).some((i) => i.code === 'GENESIS_INVALID' && i.seq === 1), JSON.stringify(j.issues));
  });

  it("a bundle with one entry line's base64 modified: exit 1, ENTRY_MODIFIED at that seq", async () => {
    const seq = noteSeqs[1] as number;
    const tampered = variant('tampered.astrid', (lines) =>
      lines.map((l) => {
        const o = JSON.parse(l) as Json;
        if (o.t !== 'e' || o.seq !== seq) return l;
        const bytes = Buffer.from(o.entry as string, 'base64');
        const at = bytes.indexOf('bundle note beta');
        assert.ok(at >= 0);
        bytes[at + 12] = (bytes[at + 12] as number) ^ 0x20; // "beta" -> "Beta"
        return JSON.stringify({...o, entry: bytes.toString('base64')});
      }),
    );
    const [human, json] = await Promise.all([verifyBundle(tampered, pubFile), verifyBundle(tampered, pubHex, true)]);
    assert.equal(human.status, 1, human.stdout);
    assert.match(human.stdout, new RegExp(`^\\s+ERROR ENTRY_MODIFIED at #${seq}: `, 'm'));
    assert.equal(json.status, 1);
    assert.deepEqual(
      errorsOf(jsonObject(json)).map((i) => [i.code, i.seq]),
      [['ENTRY_MODIFIED', seq]],
    );
  });

  it('a bundle with an entry line removed, or cut short: exit 1, naming where', async () => {
    const seq = noteSeqs[2] as number;
    const holed = variant('holed.astrid', (lines) => lines.filter((l) => !(l.startsWith('{"t":"e"') && (JSON.parse(l) as Json).seq === seq)));
    const cut = variant('cut.astrid', (lines) => lines.slice(0, -2)); // the last entry and the end line
    const [h, c] = await Promise.all([verifyBundle(holed, pubHex, true), verifyBundle(cut, pubHex, true)]);
    assert.equal(h.status, 1);
    assert.ok(
      errorsOf(jsonObject(h)).some((i) => i.code === 'ENTRY_MISSING' && i.seq === seq),
      h.stdout,
    );
    assert.equal(c.status, 1);
    const cutErrors = errorsOf(jsonObject(c));
    const head = (exported.head as Json).seq as number;
    assert.ok(
      cutErrors.some((i) => i.code === 'BUNDLE_MALFORMED' && i.seq === head),
      c.stdout,
    );
    assert.ok(
      cutErrors.some((i) => i.code === 'LEDGER_TRUNCATED' && i.seq === head),
      c.stdout,
    );
  });

  it('--bundle without --pubkey (or --pubkey without --bundle) is a usage error: exit 2', async () => {
    const [noKey, noBundle, noKeyJson] = await Promise.all([
      runCliAsync(['audit', 'verify', '--bundle', bundle], nowhere),
      runCliAsync(['audit', 'verify', '--pubkey', pubHex], nowhere),
      runCliAsync(['audit', 'verify', '--bundle', bundle, '--json'], nowhere),
    ]);
    assert.equal(noKey.status, 2, noKey.stderr);
    assert.match(noKey.stderr, /--pubkey/);
    assert.equal(noKey.stdout, '');
    assert.equal(noBundle.status, 2, noBundle.stderr);
    assert.match(noBundle.stderr, /--bundle/);
    assert.equal(noKeyJson.status, 2, noKeyJson.stdout);
    const err = jsonObject(noKeyJson).error as Json;
    assert.equal(err.code, 'INPUT_INVALID');
    assert.match(err.message as string, /--pubkey/);
    assert.equal(existsSync(nowhere), false);
  });

  it('a malformed key, a missing file or a file that is not a bundle: exit 1 with a stable code', async () => {
    const notBundle = join(dir, 'not-a-bundle.txt');
    writeFileSync(notBundle, 'hello\n');
    const [badKey, missing, notB] = await Promise.all([
      verifyBundle(bundle, 'not-a-key'),
      verifyBundle(join(dir, 'missing.astrid'), pubHex),
      verifyBundle(notBundle, pubHex, true),
    ]);
    assert.equal(badKey.status, 1);
    assert.match(badKey.stderr, /^error INPUT_INVALID: /m);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error INPUT_INVALID: /m);
    assert.equal(notB.status, 1);
    assert.equal((jsonObject(notB).error as Json).code, 'LEDGER_BUNDLE_INVALID');
  });
});
