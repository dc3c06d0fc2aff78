// Proves the gate policy file only adds hard-denies, and that a malformed file fails closed (POLICY_INVALID).
import {strict as assert} from 'node:assert';
import {spawnSync} from 'node:child_process';
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {after, describe, it} from 'node:test';
import {DEFAULT_RESERVED_TOPICS} from '../../src/capabilities/index.js';
import {AstridError} from '../../src/errors/index.js';
import {loadPolicy, POLICY_FILE} from '../../src/kernel/index.js';
import {tmpDir} from '../helpers/index.js';

describe('gate policy (policy.toml)', () => {
  const {dir, cleanup} = tmpDir('astrid-policy-');
  after(cleanup);
  let n = 0;
  const home = (toml?: string): string => {
    const h = join(dir, `h${n++}`);
    mkdirSync(h, {mode: 0o700});
    if (toml !== undefined) writeFileSync(join(h, POLICY_FILE), toml);
    return h;
  };
  const refused = (toml: string, re: RegExp): void => {
    assert.throws(() => loadPolicy(home(toml)), (e: unknown) => e instanceof AstridError && e.code === 'POLICY_INVALID' && re.test(e.message), toml);
  };

  it('without a file: the home and the kernel topics', () => {
    const h = home();
    const p = loadPolicy(h);
    assert.ok(p.denyRoots.includes(h));
    assert.deepEqual(p.reservedTopics, DEFAULT_RESERVED_TOPICS);
  });

  it('a file adds roots (and their real paths) and topics; the defaults stay', () => {
    const real = join(dir, 'real-secret');
    mkdirSync(real);
    const link = join(dir, 'link-secret');
    symlinkSync(real, link);
    const h = home(`deny_roots = ["/etc", "${link}"]\nreserved_topics = ["billing.>"]\n`);
    const p = loadPolicy(h);
    for (const r of [h, '/etc', link, real]) assert.ok(p.denyRoots.includes(r), r);
    for (const t of [...DEFAULT_RESERVED_TOPICS, 'billing.>']) assert.ok(p.reservedTopics.includes(t), t);
  });

  it('malformed files are refused, naming what is wrong', () => {
    refused('deny_roots = "/etc"', /array/);
    refused('deny_roots = ["etc"]', /absolute/);
    refused('deny_roots = ["/etc/../root"]', /"\."/);
    refused('deny_roots = ["/etc/"]', /trailing|empty/);
    refused('deny_roots = [1]', /string/);
    refused('reserved_topics = ["Bad Topic"]', /reserved_topics/);
    refused('allow_roots = ["/"]', /unknown key/);
    refused('deny_roots = [', /TOML/);
  });

  it('a policy path that is not a regular file is refused', () => {
    const h = home();
    const r = spawnSync('mkfifo', ['-m', '600', join(h, POLICY_FILE)]);
    assert.equal(r.status, 0, `mkfifo (coreutils) failed: ${String(r.error ?? r.stderr)}`);
    assert.throws(() => loadPolicy(h), (e: unknown) => e instanceof AstridError && e.code === 'POLICY_INVALID');
  });
});
