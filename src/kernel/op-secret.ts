/**
 * The secret operations behind `astrid secret set|list|remove`. The value travels only in
 * the request (over the owner-only socket, or in this process), is stored 0600 under
 * `secrets/`, and never appears in a result, a log or the ledger (`secret.set` records the
 * name and hosts).
 */
import {Type} from '@sinclair/typebox';
import {defineOp} from './op.js';
import {openSecrets, removeSecret, setSecret} from './secrets.js';

const Name = Type.String({maxLength: 128});
const closed = {additionalProperties: false} as const;

export interface SecretView {
  readonly name: string;
  readonly hosts: readonly string[];
}

export const secretOps = {
  /** Store (or replace) a secret bound to `hosts`. */
  'secret.set': defineOp({
    mode: 'write',
    args: Type.Object({name: Name, value: Type.String({maxLength: 64 * 1024}), hosts: Type.Array(Type.String({maxLength: 512}), {maxItems: 64})}, closed),
    run: async (rt, {name, value, hosts}): Promise<SecretView & {seq: number}> => setSecret(rt.k, name, value, hosts),
  }),

  /** Every stored secret's name and hosts (never a value). */
  'secret.list': defineOp({
    mode: 'read',
    args: Type.Object({}, closed),
    async run(rt): Promise<SecretView[]> {
      const store = openSecrets(rt.k.home);
      return store.list().map((name) => ({name, hosts: store.get(name).hosts}));
    },
  }),

  /** Remove a secret. */
  'secret.remove': defineOp({
    mode: 'write',
    args: Type.Object({name: Name}, closed),
    run: async (rt, {name}): Promise<{name: string; seq: number}> => removeSecret(rt.k, name),
  }),
};
