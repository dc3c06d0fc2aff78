/** Reading what a test's ledger holds: one session's entries, and the bodies or kinds of a list. */
import type {AnyEntry, BodyByKind, EntryKind, Ledger} from '../../src/ledger/index.js';

/** The bodies of the entries of `kind`, in order. */
export function bodies<K extends EntryKind>(es: readonly AnyEntry[], kind: K): BodyByKind[K][] {
  return es.filter((e) => e.kind === kind).map((e) => e.body as BodyByKind[K]);
}

/** The kinds of `es`, in order. */
export const kinds = (es: readonly AnyEntry[]): string[] => es.map((e) => e.kind);

/** Every entry of `session`, in seq order, once everything appended so far is durable. */
export async function sessionEntries(ledger: Ledger, session: string): Promise<AnyEntry[]> {
  await ledger.flush();
  const out: AnyEntry[] = [];
  for await (const e of ledger.entries({session})) out.push(e.entry);
  return out;
}
