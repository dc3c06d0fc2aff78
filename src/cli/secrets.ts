/**
 * The operations behind `astrid secret set|list|remove`. A value arrives on stdin or from
 * a file, never as a command-line argument (argv is visible to every local user through ps
 * and lands in shell history); it is never printed, logged or recorded.
 */
import {constants} from 'node:fs';
import {open} from 'node:fs/promises';
import {AstridError} from '../errors/index.js';
import {invoke, MAX_SECRET_BYTES, type SecretView} from '../kernel/index.js';

export type {SecretView};

/** Read at most `max` bytes from a stream (or a file's chunks); more is refused. One trailing line break is dropped. */
async function readBounded(chunks: AsyncIterable<Buffer | string>, max: number, what: string): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    n += b.length;
    if (n > max) throw new AstridError('SECRET_INVALID', `${what} is over ${MAX_SECRET_BYTES} bytes`);
    parts.push(b);
  }
  // one trailing line break (echo, a text editor) is not part of the value
  return Buffer.concat(parts).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * The secret value for `astrid secret set`: the regular file at `fromFile`, else stdin (which
 * must not be a terminal: the value would be echoed).
 * @throws AstridError INPUT_INVALID (stdin is a terminal, the file cannot be read), SECRET_INVALID (too large).
 */
export async function readSecretValue(fromFile: string | undefined, stdin: NodeJS.ReadableStream & {isTTY?: boolean} = process.stdin): Promise<string> {
  const max = MAX_SECRET_BYTES + 2; // room for a trailing CRLF
  if (fromFile === undefined) {
    if (stdin.isTTY === true) throw new AstridError('INPUT_INVALID', 'pipe the secret value on stdin (printf %s "$VALUE" | astrid secret set NAME ...) or give --from-file PATH');
    return readBounded(stdin as AsyncIterable<Buffer | string>, max, 'the value on stdin');
  }
  let fh;
  try {
    fh = await open(fromFile, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    throw new AstridError('INPUT_INVALID', `--from-file: cannot open ${fromFile}`, {cause});
  }
  try {
    if (!(await fh.stat()).isFile()) throw new AstridError('INPUT_INVALID', `--from-file: ${fromFile} is not a regular file`);
    return await readBounded(fh.createReadStream({autoClose: false}), max, `--from-file ${fromFile}`);
  } finally {
    await fh.close();
  }
}

/** Store (or replace) a secret bound to `hosts`; records `secret.set` with the name and hosts. */
export const secretSet = (home: string, name: string, value: string, hosts: readonly string[]): Promise<SecretView & {seq: number}> =>
  invoke(home, 'secret.set', {name, value, hosts: [...hosts]});

/** Every stored secret's name and hosts (never a value). */
export const secretList = (home: string): Promise<SecretView[]> => invoke(home, 'secret.list', {});

/** Remove a secret; records `secret.removed` with the name. */
export const secretRemove = (home: string, name: string): Promise<{name: string; seq: number}> => invoke(home, 'secret.remove', {name});
