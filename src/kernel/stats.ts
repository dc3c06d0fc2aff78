/**
 * A small projection the kernel keeps for status output: entries by kind and the set
 * of sessions seen. It is also the reference example of a projection: pure apply,
 * canonical encoding (sorted keys), snapshot-friendly.
 */
import {packMsgpack, unpackMsgpack, type Projection, type StoredEntry} from '../ledger/index.js';

export interface LedgerStats {
  readonly entries: number;
  readonly byKind: Readonly<Record<string, number>>;
  readonly sessions: number;
  readonly notes: number;
  readonly boots: number;
}


interface Internal {
  entries: number;
  byKind: Record<string, number>;
  sessions: string[];
  notes: number;
  boots: number;
}

export const statsProjection: Projection<Internal> = {
  name: 'kernel.stats',
  version: 1,
  initial: () => ({entries: 0, byKind: {}, sessions: [], notes: 0, boots: 0}),
  apply(s: Internal, e: StoredEntry): Internal {
    const kind = e.entry.kind;
    const byKind = {...s.byKind, [kind]: (s.byKind[kind] ?? 0) + 1};
    const sessions = s.sessions.includes(e.entry.session) ? s.sessions : [...s.sessions, e.entry.session].sort();
    return {
      entries: s.entries + 1,
      byKind,
      sessions,
      notes: s.notes + (kind === 'note' ? 1 : 0),
      boots: s.boots + (kind === 'kernel.boot' ? 1 : 0),
    };
  },
  encode(s: Internal): Uint8Array {
    const byKind: Record<string, number> = {};
    for (const k of Object.keys(s.byKind).sort()) byKind[k] = s.byKind[k] as number;
    return packMsgpack({entries: s.entries, byKind, sessions: [...s.sessions].sort(), notes: s.notes, boots: s.boots});
  },
  decode(bytes: Uint8Array): Internal {
    const u = unpackMsgpack(bytes) as Partial<Internal> | null;
    if (
      u === null ||
      typeof u !== 'object' ||
      typeof u.entries !== 'number' ||
      typeof u.byKind !== 'object' ||
      u.byKind === null ||
      !Array.isArray(u.sessions) ||
      !u.sessions.every((x) => typeof x === 'string') ||
      typeof u.notes !== 'number' ||
      typeof u.boots !== 'number'
    ) {
      throw new TypeError('malformed stats state');
    }
    for (const v of Object.values(u.byKind)) if (typeof v !== 'number') throw new TypeError('malformed stats state');
    return {entries: u.entries, byKind: u.byKind, sessions: u.sessions, notes: u.notes, boots: u.boots};
  },
};

/** The public view of the stats state. */
export function statsView(s: Internal): LedgerStats {
  return {entries: s.entries, byKind: s.byKind, sessions: s.sessions.length, notes: s.notes, boots: s.boots};
}
