import {Flags} from '@oclif/core';
import {AstridCommand, auditVerify, auditVerifyBundle, progressBar, systemClock, verifyLines, type VerifyReport} from '../../src/cli/index.js';

export default class AuditVerify extends AstridCommand {
  static override summary = 'Verify the hash chain and signed checkpoints.';
  static override description =
    'Checks every entry (decodes, its hash, its link to the previous entry, its position) and every checkpoint (signature by the ' +
    'kernel key, the hash it states, truncation below it). Exits 0 when intact, 1 with each issue listed otherwise. With --bundle, ' +
    'verifies an exported bundle using only the public key given by --pubkey (hex, base64, PEM, or a file holding one); ' +
    'add --expect-head SEQ[:HASH] (the head the exporter printed) to catch a bundle cut back to an earlier checkpoint.';
  static override examples = [
    '<%= config.bin %> audit verify',
    '<%= config.bin %> audit verify --json',
    '<%= config.bin %> audit verify --bundle ledger.astrid --pubkey ~/.astrid/keys/kernel.pub',
    '<%= config.bin %> audit verify --bundle ledger.astrid --pubkey 6f1c…e2 --expect-head 4210',
  ];
  static override flags = {
    bundle: Flags.string({description: 'verify this exported bundle instead of the home ledger', dependsOn: ['pubkey'], helpValue: '<file>'}),
    pubkey: Flags.string({description: 'trusted kernel public key for --bundle (hex, base64, PEM or a file)', dependsOn: ['bundle'], helpValue: '<key>'}),
    'expect-head': Flags.string({
      description: 'with --bundle: the head you expect (SEQ or SEQ:HASH, e.g. from the exporter); catches a bundle cut back to an earlier checkpoint',
      dependsOn: ['bundle'],
      helpValue: '<seq[:hash]>',
    }),
  };

  async run(): Promise<VerifyReport> {
    const {flags} = await this.parse(AuditVerify);
    const bar = progressBar('verifying', this.interactive(), systemClock);
    const report =
      flags.bundle !== undefined && flags.pubkey !== undefined
        ? await auditVerifyBundle(flags.bundle, flags.pubkey, (d) => bar.update(d, Math.max(d, 1)), flags['expect-head'])
        : await auditVerify(this.home(flags.home), (d, t) => bar.update(d, t));
    bar.done();
    if (!this.jsonEnabled()) for (const l of verifyLines(report)) this.log(l);
    if (!report.ok) process.exitCode = 1;
    return report;
  }
}
