/**
 * The kernel's secret store: one private file per secret under a private directory (the
 * kernel passes `$ASTRID_HOME/secrets`: directory 0700, files 0600; anything looser, or owned
 * by another user, is refused with KEY_PERMISSIONS_TOO_OPEN). A secret is a value and the
 * hosts it may be sent to: the http service injects it into a request's headers only for a
 * request to one of those hosts, so a capsule granted some other host cannot exfiltrate it.
 * Values never appear in an error message, a log line or the ledger; names and hosts may.
 */
import {AstridError} from '../errors/index.js';
import {ensurePrivateDir, readPrivateFile, removePrivateFile, replacePrivateFile} from '../crypto/index.js';
import {readdirSync} from 'node:fs';
import {join} from 'node:path';

/** A secret's name: an environment-variable style identifier. */
export const SECRET_NAME_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Largest secret value, in bytes. */
export const MAX_SECRET_BYTES = 8 * 1024;
/** Most hosts one secret may be bound to. */
export const MAX_SECRET_HOSTS = 16;
/** Printable ASCII and tab: what an HTTP header value can carry unchanged. */
const VALUE_RE = /^[\t\x20-\x7e]+$/;
const HOST_RE = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;
const FILE_VERSION = 1;
/** The file holds the value and the hosts as JSON: bounded by the value, the hosts and the framing. */
const MAX_FILE_BYTES = 2 * MAX_SECRET_BYTES + MAX_SECRET_HOSTS * 300 + 256;

/** A secret as the store holds it. */
export interface Secret {
  readonly value: string;
  /** Exact host names (lowercase, as URLs normalise them) the value may be sent to. */
  readonly hosts: readonly string[];
}

/** What the http service needs of a secret store. */
export interface SecretSource {
  /** @throws AstridError SECRET_NOT_FOUND, KEY_* when the store is unreadable or too open. */
  get(name: string): Secret;
}

/**
 * Check a secret name.
 * @throws AstridError SECRET_INVALID.
 */
export function checkSecretName(name: string): string {
  if (typeof name !== 'string' || !SECRET_NAME_RE.test(name)) throw new AstridError('SECRET_INVALID', `a secret name must match ${SECRET_NAME_RE.source}`);
  return name;
}

/**
 * Check a secret's hosts and return them normalised (lowercase, sorted, unique).
 * @throws AstridError SECRET_INVALID naming the host (hosts are not secret).
 */
export function checkSecretHosts(hosts: readonly string[]): string[] {
  if (!Array.isArray(hosts) || hosts.length === 0 || hosts.length > MAX_SECRET_HOSTS) {
    throw new AstridError('SECRET_INVALID', `a secret is bound to 1 to ${MAX_SECRET_HOSTS} hosts (the hosts it may be sent to)`);
  }
  const out = new Set<string>();
  for (const h of hosts) {
    const x = typeof h === 'string' ? h.toLowerCase() : '';
    if (x.length > 253 || !HOST_RE.test(x)) throw new AstridError('SECRET_INVALID', `host ${JSON.stringify(String(h).slice(0, 64))} is not a host name or bracketed IPv6 literal`);
    out.add(x);
  }
  return [...out].sort();
}

/** Check a value without ever quoting it. @throws AstridError SECRET_INVALID. */
function checkValue(value: string): void {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_SECRET_BYTES) {
    throw new AstridError('SECRET_INVALID', `a secret value must be 1 to ${MAX_SECRET_BYTES} bytes`);
  }
  if (!VALUE_RE.test(value)) throw new AstridError('SECRET_INVALID', 'a secret value must be printable ASCII (no line breaks or control characters): it is sent as a header value');
}

export class SecretStore implements SecretSource {
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * Open (creating it 0700 when missing) the store in `dir`.
   * @throws AstridError KEY_PERMISSIONS_TOO_OPEN when the directory is group/other accessible or not ours, KEY_IO.
   */
  static open(dir: string): SecretStore {
    ensurePrivateDir(dir);
    return new SecretStore(dir);
  }

  /** The store's directory. */
  get dir(): string {
    return this.#dir;
  }

  /** Check a value could be stored, without storing it (and without ever quoting it). @throws AstridError SECRET_INVALID. */
  check(value: string): void {
    checkValue(value);
  }

  /**
   * Store (or replace) a secret, bound to the hosts it may be sent to.
   * @throws AstridError SECRET_INVALID, KEY_PERMISSIONS_TOO_OPEN, KEY_IO.
   */
  set(name: string, value: string, hosts: readonly string[]): Secret {
    checkSecretName(name);
    checkValue(value);
    const h = checkSecretHosts(hosts);
    replacePrivateFile(this.#dir, name, Buffer.from(JSON.stringify({v: FILE_VERSION, hosts: h, value})));
    return {value, hosts: h};
  }

  /**
   * A secret's value and hosts.
   * @throws AstridError SECRET_NOT_FOUND, SECRET_INVALID (bad name or a damaged file), KEY_PERMISSIONS_TOO_OPEN, KEY_IO.
   */
  get(name: string): Secret {
    checkSecretName(name);
    if (!this.has(name)) throw new AstridError('SECRET_NOT_FOUND', `no secret named ${name} (astrid secret set ${name})`, {details: {name}});
    ensurePrivateDir(this.#dir);
    const bytes = readPrivateFile(join(this.#dir, name), MAX_FILE_BYTES);
    let doc: unknown;
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      doc = undefined;
    }
    const damaged = (): never => {
      throw new AstridError('SECRET_INVALID', `the file of secret ${name} is damaged; set it again`, {details: {name}});
    };
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return damaged();
    const d = doc as Record<string, unknown>;
    if (d.v !== FILE_VERSION || Object.keys(d).length !== 3 || typeof d.value !== 'string' || !Array.isArray(d.hosts)) return damaged();
    const hosts = d.hosts as unknown[];
    if (!hosts.every((x): x is string => typeof x === 'string')) return damaged();
    try {
      checkValue(d.value);
      return {value: d.value, hosts: checkSecretHosts(hosts)};
    } catch {
      return damaged();
    }
  }

  /** Is there a secret of this name? @throws AstridError SECRET_INVALID for a bad name. */
  has(name: string): boolean {
    checkSecretName(name);
    return this.list().includes(name);
  }

  /** The names of the stored secrets, sorted (never their values). @throws AstridError KEY_PERMISSIONS_TOO_OPEN, KEY_IO. */
  list(): string[] {
    ensurePrivateDir(this.#dir);
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch (cause) {
      throw new AstridError('KEY_IO', `cannot list ${this.#dir}`, {cause, details: {path: this.#dir}});
    }
    return names.filter((n) => SECRET_NAME_RE.test(n)).sort();
  }

  /**
   * Remove a secret.
   * @throws AstridError SECRET_NOT_FOUND, SECRET_INVALID, KEY_PERMISSIONS_TOO_OPEN, KEY_IO.
   */
  remove(name: string): void {
    checkSecretName(name);
    if (!removePrivateFile(this.#dir, name)) throw new AstridError('SECRET_NOT_FOUND', `no secret named ${name}`, {details: {name}});
  }
}
