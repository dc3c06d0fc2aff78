import {Flags} from '@oclif/core';
import {AstridCommand, auditExport, progressBar, systemClock, type ExportResult} from '../../src/cli/index.js';

export default class AuditExport extends AstridCommand {
  static override summary = 'Export the ledger as a bundle anyone can verify with the kernel public key.';
  static override description =
    'Writes a signed checkpoint at the head, then every checkpoint and entry (exact stored bytes) as JSON Lines (format: docs/ledger.md). ' +
    'Verify it elsewhere with: astrid audit verify --bundle FILE --pubkey KEY.';
  static override examples = ['<%= config.bin %> audit export --out ledger.astrid', '<%= config.bin %> audit export --out /tmp/l.astrid --json'];
  static override flags = {out: Flags.string({description: 'file to write (replaced atomically, mode 0600)', required: true, helpValue: '<file>'})};

  async run(): Promise<ExportResult & {kernelKey: string}> {
    const {flags} = await this.parse(AuditExport);
    const bar = progressBar('exporting', this.interactive(), systemClock);
    const r = await auditExport(this.home(flags.home), flags.out, (d, t) => bar.update(d, t));
    bar.done();
    this.log(`wrote ${r.entries} entries and ${r.checkpoints} checkpoints to ${r.path} (head #${r.head.seq} ${r.head.hash})`);
    this.log(`kernel public key: ${r.kernelKey}`);
    return r;
  }
}
