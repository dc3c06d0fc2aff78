// Proves the kernel key is created private (0600 in 0700), reloaded unchanged, refused when too open, invalid, a symlink or not a regular file, and created exactly once under concurrent first use.
import {test, describe} from 'node:test';
import {strict as assert} from 'node:assert';
import {spawn, spawnSync} from 'node:child_process';
import {generateKeyPairSync} from 'node:crypto';
import {chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {loadOrCreateKernelKey, KEYS_DIR, KERNEL_KEY_FILE, KERNEL_PUB_FILE, SigningKey, toHex, verifyStrict} from '../../src/crypto/index.js';
import {AstridError, type ErrorCode} from '../../src/errors/index.js';
import {tmpDir} from '../helpers/index.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

interface Home {
  readonly home: string;
  readonly keys: string;
  readonly keyFile: string;
}

/** A fresh home (not yet created: the key store must create it) in a temp dir removed after the test. */
function freshHome(t: {after: (fn: () => void) => void}): Home {
  const {dir, cleanup} = tmpDir('astrid-keystore-');
  t.after(cleanup);
  const home = join(dir, 'home');
  return {home, keys: join(home, KEYS_DIR), keyFile: join(home, KEYS_DIR, KERNEL_KEY_FILE)};
}

/** A home whose keys/ directory exists with mode 0700 and no key yet. */
function emptyKeysHome(t: {after: (fn: () => void) => void}): Home {
  const h = freshHome(t);
  mkdirSync(h.keys, {recursive: true, mode: 0o700});
  chmodSync(h.keys, 0o700);
  return h;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function assertCode(fn: () => unknown, code: ErrorCode, what: string = code): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AstridError, `expected AstridError, got ${String(e)}`);
    assert.equal(e.code, code, what);
    return true;
  });
}

describe('creation and reload', () => {
  test('first use creates keys/ 0700 and kernel.key 0600 holding an Ed25519 PKCS#8 PEM', (t) => {
    const h = freshHome(t);
    const key = loadOrCreateKernelKey(h.home);
    assert.equal(statSync(h.keys).isDirectory(), true);
    assert.equal(mode(h.keys), 0o700);
    assert.equal(lstatSync(h.keyFile).isFile(), true);
    assert.equal(mode(h.keyFile), 0o600);
    const pem = readFileSync(h.keyFile, 'utf8');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.deepEqual(SigningKey.fromPem(pem).publicKey, key.publicKey);
    assert.equal(readFileSync(join(h.keys, KERNEL_PUB_FILE), 'utf8').trim(), toHex(key.publicKey));
  });

  test('first use leaves nothing but kernel.key and kernel.pub in keys/', (t) => {
    const h = freshHome(t);
    loadOrCreateKernelKey(h.home);
    assert.deepEqual(readdirSync(h.keys).sort(), [KERNEL_KEY_FILE, KERNEL_PUB_FILE]);
  });

  test('a second call returns the same key', (t) => {
    const h = freshHome(t);
    const a = loadOrCreateKernelKey(h.home);
    const b = loadOrCreateKernelKey(h.home);
    assert.deepEqual(b.publicKey, a.publicKey);
    const m = new TextEncoder().encode('checkpoint 1');
    assert.deepEqual(b.sign(m), a.sign(m));
    assert.equal(verifyStrict(a.publicKey, m, b.sign(m)), true);
    assert.equal(mode(h.keyFile), 0o600);
  });

  test('a deleted kernel.key is not made anew while kernel.pub names the old one (KEY_MISSING), and kernel.pub is left as it was', (t) => {
    const h = freshHome(t);
    const a = loadOrCreateKernelKey(h.home);
    const pub = join(h.keys, KERNEL_PUB_FILE);
    const before = readFileSync(pub, 'utf8');
    rmSync(h.keyFile);
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_MISSING');
    assert.equal(readFileSync(pub, 'utf8'), before, 'the public key of the old identity stays');
    assert.deepEqual(readdirSync(h.keys).sort(), [KERNEL_PUB_FILE], 'no key was made');
    rmSync(pub); // the owner moves it away on purpose: a new identity
    assert.notDeepEqual(loadOrCreateKernelKey(h.home).publicKey, a.publicKey);
  });

  test('a permissive umask (000) still yields 0700 and 0600', (t) => {
    const h = freshHome(t);
    const old = process.umask(0);
    try {
      loadOrCreateKernelKey(h.home);
    } finally {
      process.umask(old);
    }
    assert.equal(mode(h.keys), 0o700);
    assert.equal(mode(h.keyFile), 0o600);
  });

  test('an owner-only read-only key file (0400) is accepted', (t) => {
    const h = freshHome(t);
    const a = loadOrCreateKernelKey(h.home);
    chmodSync(h.keyFile, 0o400);
    assert.deepEqual(loadOrCreateKernelKey(h.home).publicKey, a.publicKey);
  });
});

describe('hostile: permissions', () => {
  for (const m of [0o644, 0o640, 0o604, 0o660, 0o610, 0o601, 0o666, 0o777]) {
    test(`a key file with mode ${m.toString(8)} is refused with KEY_PERMISSIONS_TOO_OPEN and left as is`, (t) => {
      const h = freshHome(t);
      loadOrCreateKernelKey(h.home);
      const before = readFileSync(h.keyFile);
      chmodSync(h.keyFile, m);
      assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_PERMISSIONS_TOO_OPEN');
      assert.equal(mode(h.keyFile), m, 'the key store must not silently "fix" the mode');
      assert.deepEqual(readFileSync(h.keyFile), before);
    });
  }

  for (const m of [0o755, 0o750, 0o705, 0o701, 0o710, 0o770, 0o777]) {
    test(`a keys/ directory with mode ${m.toString(8)} is refused with KEY_PERMISSIONS_TOO_OPEN`, (t) => {
      const h = freshHome(t);
      const a = loadOrCreateKernelKey(h.home);
      chmodSync(h.keys, m);
      assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_PERMISSIONS_TOO_OPEN');
      chmodSync(h.keys, 0o700);
      assert.deepEqual(loadOrCreateKernelKey(h.home).publicKey, a.publicKey, 'the key survives the refusal');
    });
  }

  test('a pre-existing keys/ directory with mode 0755 is refused before any key is written', (t) => {
    const h = freshHome(t);
    mkdirSync(h.keys, {recursive: true});
    chmodSync(h.keys, 0o755);
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_PERMISSIONS_TOO_OPEN');
    assert.equal(existsSync(h.keyFile), false);
  });

  test('a key file owned by another user is refused with KEY_PERMISSIONS_TOO_OPEN', {skip: !isRoot && 'needs root to chown'}, (t) => {
    const h = freshHome(t);
    loadOrCreateKernelKey(h.home);
    chownSync(h.keyFile, 4242, 4242);
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_PERMISSIONS_TOO_OPEN');
  });

  test('a keys/ directory owned by another user is refused with KEY_PERMISSIONS_TOO_OPEN', {skip: !isRoot && 'needs root to chown'}, (t) => {
    const h = freshHome(t);
    loadOrCreateKernelKey(h.home);
    chownSync(h.keys, 4242, 4242);
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_PERMISSIONS_TOO_OPEN');
  });
});

describe('hostile: key file contents', () => {
  const x25519Pem = generateKeyPairSync('x25519').privateKey.export({format: 'pem', type: 'pkcs8'}).toString();
  const validPem = SigningKey.fromSeed(new Uint8Array(32).fill(3)).toPem();
  const publicPem = generateKeyPairSync('ed25519').publicKey.export({format: 'pem', type: 'spki'}).toString();
  const contents: readonly [string, string | Uint8Array][] = [
    ['garbage text', 'this is not a key\n'],
    ['random binary', new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff)],
    ['an empty file', ''],
    ['a truncated PEM', validPem.slice(0, validPem.length / 2)],
    ['an Ed25519 public key PEM', publicPem],
    ['an X25519 private key PEM', x25519Pem],
    ['a PEM header with an empty body', '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n'],
    ['a valid PEM padded past 16 KiB', validPem + '\n'.repeat(16 * 1024)],
  ];
  for (const [name, body] of contents) {
    test(`${name} is refused with KEY_INVALID and not overwritten`, (t) => {
      const h = emptyKeysHome(t);
      writeFileSync(h.keyFile, body, {mode: 0o600});
      chmodSync(h.keyFile, 0o600);
      const before = readFileSync(h.keyFile);
      assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_INVALID', name);
      assert.deepEqual(readFileSync(h.keyFile), before);
    });
  }

  test('a valid PEM written by hand with mode 0600 is loaded', (t) => {
    const h = emptyKeysHome(t);
    writeFileSync(h.keyFile, validPem, {mode: 0o600});
    assert.deepEqual(loadOrCreateKernelKey(h.home).publicKey, SigningKey.fromPem(validPem).publicKey);
  });
});

describe('hostile: what sits at the key path', () => {
  test('a symlink to a valid 0600 key is refused with KEY_IO (O_NOFOLLOW)', (t) => {
    const h = emptyKeysHome(t);
    const target = join(h.home, 'elsewhere.key');
    writeFileSync(target, SigningKey.generate().toPem(), {mode: 0o600});
    symlinkSync(target, h.keyFile);
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_IO');
  });

  test('a dangling symlink is refused with KEY_IO and its target is not created', (t) => {
    const h = emptyKeysHome(t);
    const target = join(h.home, 'planted.key');
    symlinkSync(target, h.keyFile);
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_IO');
    assert.equal(existsSync(target), false, 'the key must not be written through the symlink');
    assert.equal(lstatSync(h.keyFile).isSymbolicLink(), true);
  });

  test('a directory in place of kernel.key is refused with KEY_INVALID', (t) => {
    const h = emptyKeysHome(t);
    mkdirSync(h.keyFile, {mode: 0o700});
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_INVALID');
  });

  test('a FIFO in place of kernel.key is refused with KEY_INVALID without blocking', (t) => {
    const h = emptyKeysHome(t);
    const r = spawnSync('mkfifo', ['-m', '600', h.keyFile]);
    assert.equal(r.status, 0, `mkfifo (coreutils) failed: ${String(r.error ?? r.stderr)}`);
    // Opening a FIFO for reading blocks until a writer appears; the key store must not hang here.
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_INVALID');
  });

  test('a regular file in place of keys/ is refused with KEY_IO', (t) => {
    const h = freshHome(t);
    mkdirSync(h.home, {mode: 0o700});
    writeFileSync(h.keys, 'not a directory', {mode: 0o600});
    assertCode(() => loadOrCreateKernelKey(h.home), 'KEY_IO');
  });
});

describe('concurrent first use', () => {
  const moduleUrl = new URL('../../src/crypto/index.js', import.meta.url).href;
  // Each child imports the compiled key store, says "ready", waits for "go" on stdin, then loads or creates
  // the key in each home in turn and prints one line per home: its public key or the error code. The stdin
  // barrier lines the children up; racing through many homes gives many races for few process starts.
  const childScript = `
    const {loadOrCreateKernelKey, toHex} = await import(process.env.KEYSTORE_MODULE);
    const homes = JSON.parse(process.env.KEY_HOMES);
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      for (const home of homes) {
        try { process.stdout.write('key ' + toHex(loadOrCreateKernelKey(home).publicKey) + '\\n'); }
        catch (e) { process.stdout.write('error ' + String(e && e.code) + ' ' + String(e && e.message) + '\\n'); }
      }
      process.stdin.destroy();
    });`;

  interface Child {
    readonly ready: Promise<void>;
    readonly done: Promise<{status: number | null; lines: string[]; err: string}>;
    go(): void;
  }
  function startChild(homes: readonly string[]): Child {
    const c = spawn(process.execPath, ['--input-type=module', '-e', childScript], {
      env: {...process.env, KEYSTORE_MODULE: moduleUrl, KEY_HOMES: JSON.stringify(homes)},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.startsWith('ready\n')) markReady();
    });
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const done = new Promise<{status: number | null; lines: string[]; err: string}>((resolve, reject) => {
      c.on('error', reject);
      c.on('close', (status) => {
        markReady();
        resolve({status, lines: out.replace(/^ready\n/, '').trim().split('\n'), err});
      });
    });
    return {ready, done, go: () => c.stdin.write('go\n')};
  }

  test('5 processes racing to create the key in each of 12 fresh homes: every process gets the one key on disk', async (t) => {
    const homes = Array.from({length: 12}, () => freshHome(t));
    const children = Array.from({length: 5}, () => startChild(homes.map((h) => h.home)));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) assert.equal(r.status, 0, r.err);
    homes.forEach((h, i) => {
      const onDisk = toHex(SigningKey.fromPem(readFileSync(h.keyFile, 'utf8')).publicKey);
      assert.deepEqual(
        results.map((r) => r.lines[i]),
        results.map(() => `key ${onDisk}`),
        `home ${i}`,
      );
      assert.equal(mode(h.keyFile), 0o600);
      assert.deepEqual(readdirSync(h.keys).sort(), [KERNEL_KEY_FILE, KERNEL_PUB_FILE], 'no temporary files left behind');
      assert.equal(readFileSync(join(h.keys, KERNEL_PUB_FILE), 'utf8').trim(), onDisk);
    });
  });
});
