/**
 * Rendering ledger data for people. (The JSON views are the kernel's: src/kernel/views.ts.)
 */
import type {VerifyReport} from '../ledger/index.js';
import type {EntryView} from '../kernel/index.js';

export type {EntryView};

/** One line per entry for people. */
export function entryLine(v: EntryView): string {
  let body = JSON.stringify(v.body);
  if (body.length > 120) body = body.slice(0, 117) + '...';
  return `#${v.seq}  ${v.timeIso}  ${v.kind.padEnd(15)}  ${v.session}/${v.principal}/${v.actor}  ${body}`;
}

/** Human summary of a verification report. */
export function verifyLines(r: VerifyReport): string[] {
  const lines: string[] = [];
  lines.push(
    `${r.ok ? 'OK' : 'FAILED'}: ${r.entries} entries, head #${r.head.seq} ${r.head.hash.slice(0, 16)}…, ` +
      `${r.checkpoints.valid}/${r.checkpoints.count} checkpoints valid, signed through #${r.checkpoints.lastSignedSeq}`,
  );
  for (const i of r.issues) lines.push(`  ${i.severity === 'error' ? 'ERROR' : 'warn '} ${i.code} at #${i.seq}: ${i.message}`);
  return lines;
}
