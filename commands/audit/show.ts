import {Flags} from '@oclif/core';
import {AstridCommand, auditShow, entryLine, ENTRY_KINDS, type EntryView} from '../../src/cli/index.js';

export default class AuditShow extends AstridCommand {
  static override summary = 'List ledger entries.';
  static override description =
    'Prints entries oldest first. With --json, prints a JSON array of entries, each with seq, hash, prev, time, timeIso, kind, session, principal, actor and body.';
  static override examples = [
    '<%= config.bin %> audit show --limit 20',
    '<%= config.bin %> audit show --session cli --kind note --json',
    '<%= config.bin %> audit show --from 1000 --limit 50',
  ];
  static override flags = {
    session: Flags.string({description: 'only entries of this session'}),
    actor: Flags.string({description: 'only entries of this actor'}),
    kind: Flags.string({description: 'only entries of this kind', options: [...ENTRY_KINDS]}),
    from: Flags.integer({description: 'first seq to show', min: 1}),
    limit: Flags.integer({description: 'at most this many entries', min: 0, default: 1000}),
  };

  async run(): Promise<EntryView[]> {
    const {flags} = await this.parse(AuditShow);
    const entries = await auditShow(this.home(flags.home), {
      ...(flags.session === undefined ? {} : {session: flags.session}),
      ...(flags.actor === undefined ? {} : {actor: flags.actor}),
      ...(flags.kind === undefined ? {} : {kind: flags.kind}),
      ...(flags.from === undefined ? {} : {from: flags.from}),
      limit: flags.limit,
    });
    if (!this.jsonEnabled()) {
      for (const e of entries) this.log(entryLine(e));
      if (entries.length === 0) this.log('(no entries)');
    }
    return entries;
  }
}
