import {AstridCommand, auditReindex, progressBar, systemClock, type ReindexResult} from '../../src/cli/index.js';

export default class AuditReindex extends AstridCommand {
  static override summary = 'Rebuild the session and actor indexes from the entries.';
  static override description =
    'For a ledger whose indexes "audit verify" reports as INDEX_MISMATCH (edited, or left wrong by a bug). ' +
    'Writes the postings anew from a scan of the entries, then deletes every older index key of those entries (the ledger\'s own, one per batch, and any planted or broken one), ' +
    'and records a ledger.reindexed entry. The entries themselves are only read. Runs in the daemon when one is up ' +
    '(appends go on meanwhile); a crash part way leaves the old indexes usable: run it again.';
  static override examples = ['<%= config.bin %> audit reindex', '<%= config.bin %> audit reindex --json'];

  async run(): Promise<ReindexResult> {
    const {flags} = await this.parse(AuditReindex);
    const bar = progressBar('reindexing', this.interactive(), systemClock);
    const r = await auditReindex(this.home(flags.home), (d, t) => bar.update(d, t));
    bar.done();
    this.log(`indexes rebuilt from the entries up to seq ${r.indexed}; ${r.replaced} older index keys replaced (recorded at seq ${r.entry.seq})`);
    return r;
  }
}
