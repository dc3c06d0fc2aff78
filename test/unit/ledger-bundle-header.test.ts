// Proves a bundle whose entries end before the head its header names is reported (BUNDLE_HEAD_MISMATCH), and an intact one is not.
import {test} from 'node:test';
import {strict as assert} from 'node:assert';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {MemoryStore, exportBundle, verifyBundle} from '../../src/ledger/index.js';
import {tmpDir} from '../helpers/index.js';
import {KEY, hasher, note, openLedger} from '../helpers/ledger-fixtures.js';

test('a bundle cut short with its header left alone names BUNDLE_HEAD_MISMATCH; the intact bundle does not', async () => {
  const {dir, cleanup} = tmpDir('astrid-bundle-header-');
  try {
    const ledger = await openLedger(new MemoryStore(), {checkpointEvery: 3});
    for (let i = 0; i < 10; i++) await ledger.append(note(`n${i}`));
    const path = join(dir, 'b.jsonl');
    await exportBundle(ledger, path, {exportedAt: 1});
    await ledger.close();
    const intact = await verifyBundle(path, KEY.publicKey, {hasher: await hasher()});
    assert.equal(intact.ok, true, JSON.stringify(intact.issues));
    assert.ok(!intact.issues.some((i) => i.code === 'BUNDLE_HEAD_MISMATCH'));
    // Cut back to the checkpoint at seq 7: drop later entry and checkpoint lines, fix the end
    // count, keep the header (which still names the real head).
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    const kept = lines.filter((l) => {
      const o = JSON.parse(l) as {t?: string; seq?: number};
      return o.t === undefined || o.t === 'end' || (o.seq ?? 0) <= 7;
    });
    const entries = kept.filter((l) => (JSON.parse(l) as {t?: string}).t === 'e').length;
    const cut = kept.map((l) => ((JSON.parse(l) as {t?: string}).t === 'end' ? JSON.stringify({t: 'end', entries, checkpoints: 0}) : l));
    writeFileSync(path, cut.join('\n') + '\n');
    const r = await verifyBundle(path, KEY.publicKey, {hasher: await hasher()});
    assert.equal(r.ok, false);
    assert.ok(r.issues.some((i) => i.code === 'BUNDLE_HEAD_MISMATCH'), JSON.stringify(r.issues));
  } finally {
    cleanup();
  }
});
