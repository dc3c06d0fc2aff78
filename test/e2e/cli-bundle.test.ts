// Proves: `astrid audit export` writes a bundle that `astrid audit verify --bundle --pubkey` accepts with only the right public key, and rejects, naming the seq, when the key is another's, the bundle was edited, or (with --expect-head) it does not end at the head the exporter reported.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {initHome, runCli, runCliAsync, tmpDir, type CliResult} from '../helpers/index.js';

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
  const verifyExpecting = (file: string, expectHead: string, json = false): Promise<CliResult> =>
    // `--expect-head=VALUE`, so that a value such as -1 cannot be taken for a flag.
    runCliAsync(['audit', 'verify', '--bundle', file, '--pubkey', pubHex, `--expect-head=${expectHead}`, ...(json ? ['--json'] : [])], nowhere);
  const exportedHead = (): {seq: number; hash: string} => exported.head as {seq: number; hash: string};

  before(() => {
    initHome(home);
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

  it('export onto a directory: exit 1 with LEDGER_BUNDLE_INVALID, and nothing left behind', () => {
    const r = runCli(['audit', 'export', '--out', dir, '--json'], home);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal((jsonObject(r).error as Json).code, 'LEDGER_BUNDLE_INVALID');
    assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp-')), 'the temporary file is removed');
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

  it('--expect-head SEQ:HASH (or SEQ) equal to the exported head: exit 0', async () => {
    const {seq, hash} = exportedHead();
    const [full, seqOnly, upper, human] = await Promise.all([
      verifyExpecting(bundle, `${seq}:${hash}`, true),
      verifyExpecting(bundle, String(seq), true),
      verifyExpecting(bundle, `${seq}:${hash.toUpperCase()}`, true),
      // As documented: `--expect-head SEQ:HASH`, the value as its own argument.
      runCliAsync(['audit', 'verify', '--bundle', bundle, '--pubkey', pubFile, '--expect-head', `${seq}:${hash}`], nowhere),
    ]);
    for (const r of [full, seqOnly, upper]) {
      const j = jsonObject(succeeded(r));
      assert.equal(j.ok, true);
      assert.deepEqual(j.issues, []);
    }
    assert.match(succeeded(human).stdout, new RegExp(`^OK: ${seq} entries, head #${seq} `, 'm'));
  });

  it('--expect-head with another seq or hash: exit 1 naming BUNDLE_HEAD_MISMATCH', async () => {
    const {seq, hash} = exportedHead();
    const otherHash = `${hash.slice(0, 63)}${hash.endsWith('0') ? '1' : '0'}`;
    const [earlier, later, wrongHash, human] = await Promise.all([
      verifyExpecting(bundle, String(seq - 1), true),
      verifyExpecting(bundle, `${seq + 3}:${hash}`, true),
      verifyExpecting(bundle, `${seq}:${otherHash}`, true),
      verifyExpecting(bundle, `${seq}:${otherHash}`),
    ]);
    for (const r of [earlier, later, wrongHash]) {
      assert.equal(r.status, 1, r.stdout);
      const j = jsonObject(r);
      assert.equal(j.ok, false);
      assert.deepEqual(
        errorsOf(j).map((i) => i.code),
        ['BUNDLE_HEAD_MISMATCH'],
      );
    }
    assert.deepEqual(
      errorsOf(jsonObject(earlier)).map((i) => [i.code, i.seq]),
      [['BUNDLE_HEAD_MISMATCH', seq]],
    );
    assert.equal(human.status, 1, human.stdout);
    assert.match(human.stdout, /^FAILED: /m);
    assert.match(human.stdout, /^\s+ERROR BUNDLE_HEAD_MISMATCH at #\d+: /m);
  });

  it('a bundle cut back to an earlier checkpoint passes alone but fails --expect-head: exit 1', async () => {
    const {seq, hash} = exportedHead();
    // Each CLI command closes with a checkpoint, so the ledger has several; cut back to the one before the head.
    const cps = readFileSync(bundle, 'utf8').split('\n').filter((l) => l.startsWith('{"t":"c"')).map((l) => (JSON.parse(l) as Json).seq as number);
    const k = cps.filter((c) => c < seq).at(-1) as number;
    assert.ok(k >= 1 && cps.includes(1), `checkpoints ${cps.join()}`);
    const cut = variant('cut-back.astrid', (lines) => {
      const kept = lines.filter((l) => {
        const o = JSON.parse(l) as Json;
        return !((o.t === 'c' || o.t === 'e') && (o.seq as number) > k);
      });
      const entries = kept.filter((l) => l.startsWith('{"t":"e"'));
      const last = JSON.parse(entries.at(-1) as string) as Json;
      return kept.map((l) => {
        const o = JSON.parse(l) as Json;
        if (o.format !== undefined) return JSON.stringify({...o, head: {seq: k, hash: last.hash}});
        if (o.t === 'end') return JSON.stringify({t: 'end', entries: entries.length, checkpoints: kept.filter((x) => x.startsWith('{"t":"c"')).length});
        return l;
      });
    });
    const [alone, expecting, expectingHuman] = await Promise.all([
      verifyBundle(cut, pubHex, true),
      verifyExpecting(cut, `${seq}:${hash}`, true),
      verifyExpecting(cut, `${seq}:${hash}`),
    ]);
    const a = jsonObject(succeeded(alone));
    assert.equal(a.ok, true, 'a cut-back bundle is complete and signed on its own');
    assert.equal((a.head as Json).seq, k);
    assert.equal(expecting.status, 1, expecting.stdout);
    assert.deepEqual(
      errorsOf(jsonObject(expecting)).map((i) => [i.code, i.seq]),
      [['BUNDLE_HEAD_MISMATCH', k + 1]],
    );
    assert.equal(expectingHuman.status, 1);
    assert.match(expectingHuman.stdout, new RegExp(`^\\s+ERROR BUNDLE_HEAD_MISMATCH at #${k + 1}: `, 'm'));
  });

  it('a malformed --expect-head is INPUT_INVALID: exit 1', async () => {
    const {seq, hash} = exportedHead();
    const bad = ['abc', '-1', '1.5', `${seq}:`, `${seq}:${hash.slice(1)}`, `${seq}:${hash}0`, `${seq}:${'g'.repeat(64)}`, `:${hash}`, `${seq} `, '1234567890123456'];
    const results = await Promise.all(bad.map((b) => verifyExpecting(bundle, b, true)));
    results.forEach((r, i) => {
      assert.equal(r.status, 1, `--expect-head ${JSON.stringify(bad[i])}: ${r.stdout}${r.stderr}`);
      assert.equal((jsonObject(r).error as Json).code, 'INPUT_INVALID', `--expect-head ${JSON.stringify(bad[i])}`);
    });
    const human = await verifyExpecting(bundle, 'abc');
    assert.equal(human.status, 1);
    assert.match(human.stderr, /^error INPUT_INVALID: .*--expect-head/m);
    assert.equal(existsSync(nowhere), false);
  });

  it('--expect-head without --bundle is a usage error: exit 2', async () => {
    const {seq} = exportedHead();
    const [human, json] = await Promise.all([
      runCliAsync(['audit', 'verify', '--expect-head', String(seq)], nowhere),
      runCliAsync(['audit', 'verify', '--expect-head', String(seq), '--json'], nowhere),
    ]);
    assert.equal(human.status, 2, human.stderr);
    assert.match(human.stderr, /--bundle/);
    assert.equal(human.stdout, '');
    assert.equal(json.status, 2, json.stdout);
    const err = jsonObject(json).error as Json;
    assert.equal(err.code, 'INPUT_INVALID');
    assert.match(err.message as string, /--bundle/);
    assert.equal(existsSync(nowhere), false, 'a usage error opened the home');
  });

  it('a malformed key, a missing file or a file that is not a bundle: exit 1 with a stable code', async () => {
    const notBundle = join(dir, 'not-a-bundle.txt');
    writeFileSync(notBundle, 'hello\n');
    const [badKey, missingKey, missing, notB] = await Promise.all([
      verifyBundle(bundle, 'not-a-key'),
      verifyBundle(bundle, join(dir, 'keys', 'gone.pub')),
      verifyBundle(join(dir, 'missing.astrid'), pubHex),
      verifyBundle(notBundle, pubHex, true),
    ]);
    assert.equal(badKey.status, 1);
    assert.match(badKey.stderr, /^error INPUT_INVALID: /m);
    assert.equal(missingKey.status, 1);
    assert.match(missingKey.stderr, /^error INPUT_INVALID: --pubkey: no such file: /m, 'a key path that is not there is named as such');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error INPUT_INVALID: /m);
    assert.equal(notB.status, 1);
    assert.equal((jsonObject(notB).error as Json).code, 'LEDGER_BUNDLE_INVALID');
  });
});
