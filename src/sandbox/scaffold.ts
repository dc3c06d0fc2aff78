/**
 * `astrid capsule new`: create a capsule directory from a template: a manifest that
 * handles `<name>.>` and sends `<name>.reply`, an echo-like AssemblyScript handler and a
 * README. Never overwrites: an existing directory is refused.
 */
import {mkdir, writeFile, rm} from 'node:fs/promises';
import {join, resolve} from 'node:path';
import {AstridError} from '../errors/index.js';
import {parseBlake3Hex} from '../crypto/index.js';
import {parsePattern} from '../topics/index.js';
import {ABI_VERSION, DEFAULT_BUDGET, MANIFEST_FILE, NAME_RE, manifestToml, type Manifest} from './manifest.js';
import {CAPSULE_ENTRY, SDK_PACKAGE} from './build.js';

/** The hash a scaffolded manifest carries until the first build. */
const UNBUILT_HASH = parseBlake3Hex('0'.repeat(64));

function templateManifest(name: string): Manifest {
  return {
    package: {name, version: '0.1.0', abi: ABI_VERSION, description: `The ${name} capsule.`},
    module: {file: `${name}.wasm`, hash: UNBUILT_HASH},
    topics: {handles: [parsePattern(`${name}.>`)], sends: [parsePattern(`${name}.reply`)]},
    resources: {fs_read: [], fs_write: [], net_http: [], kv: [], spawn: []},
    budget: {...DEFAULT_BUDGET},
  };
}

function templateSource(name: string): string {
  return `/**
 * ${name}: answers every \`${name}.*\` message with its payload on \`${name}.reply\`.
 * Top-level code runs once, in astrid_init; the handler runs once per message.
 */
import {Message, onMessage, send, log, LOG_WARN, errorName} from "${SDK_PACKAGE}";
export {astrid_alloc, astrid_handle} from "${SDK_PACKAGE}";

const REPLY_TOPIC = "${name}.reply";

function handle(msg: Message): i32 {
  // our own replies match "${name}.>" too
  if (msg.topic == REPLY_TOPIC) return 0;
  const seq = send(REPLY_TOPIC, msg.payload, msg.corr);
  if (seq < 0) {
    log(LOG_WARN, "send failed: " + errorName(seq));
    return 1;
  }
  return 0;
}

onMessage(handle);
`;
}

function templateReadme(name: string): string {
  return `# ${name}

A capsule: \`${CAPSULE_ENTRY}\` (AssemblyScript, using the \`${SDK_PACKAGE}\` SDK) compiled to
\`${name}.wasm\`, described by \`${MANIFEST_FILE}\`.

- Handles \`${name}.>\`; answers on \`${name}.reply\` with the same payload and \`corr\`.
- Build: \`astrid capsule build .\` (compiles, checks the module against host ABI v1 and
  writes its BLAKE3 into \`${MANIFEST_FILE}\`). Rebuild after every change: a hash mismatch
  means no load.
- Widen \`[resources]\` only as far as the capsule needs: it is an upper bound, the grant
  decides. \`[budget]\` bounds each activation (fuel, memory pages, wall time).
- Run: \`astrid capsule install .\`, then
  \`astrid run ${name} --grant bus.send:${name}.reply --topic ${name}.hello --input '"hi"'\`.
  Without the grant its reply is denied (a capsule gets only what a grant gives).
`;
}

/**
 * Create `<parentDir>/<name>/` with `capsule.toml`, `assembly/index.ts` and `README.md`.
 * @throws AstridError INPUT_INVALID when `name` is not a valid capsule name or the directory exists.
 */
export async function scaffoldCapsule(parentDir: string, name: string): Promise<{dir: string}> {
  if (typeof parentDir !== 'string' || parentDir.length === 0) throw new TypeError('parentDir must be a non-empty path');
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new AstridError('INPUT_INVALID', `capsule name ${JSON.stringify(name)} must match ${NAME_RE.source}`, {details: {name}});
  }
  const parent = resolve(parentDir);
  const dir = join(parent, name);
  await mkdir(parent, {recursive: true});
  try {
    await mkdir(dir); // not recursive: fails when it exists, so nothing is ever overwritten
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AstridError('INPUT_INVALID', `${dir} already exists; refusing to overwrite it`, {details: {dir}, cause: e});
    }
    throw e;
  }
  try {
    await mkdir(join(dir, 'assembly'));
    await writeFile(join(dir, MANIFEST_FILE), manifestToml(templateManifest(name)), {flag: 'wx'});
    await writeFile(join(dir, CAPSULE_ENTRY), templateSource(name), {flag: 'wx'});
    await writeFile(join(dir, 'README.md'), templateReadme(name), {flag: 'wx'});
  } catch (e) {
    await rm(dir, {recursive: true, force: true}); // the directory is ours: created above
    throw e;
  }
  return {dir};
}
