import {AstridCommand, progressBar, startOnce, systemClock, type BootReport} from '../src/cli/index.js';

export default class Start extends AstridCommand {
  static override summary = 'Boot the kernel on the embedded ledger and print its status.';
  static override description =
    'Opens (or creates) the state under $ASTRID_HOME: the kernel key and the LevelDB ledger. Records a kernel.boot entry, ' +
    'verifies the whole hash chain and its signed checkpoints, rebuilds projections (using a snapshot when it checks out), ' +
    'prints the status, records kernel.shutdown and closes with a signed checkpoint. The long-running daemon arrives with ' +
    'the kernel issue; until then this is a one-shot boot.';
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --home /tmp/astrid --json'];
  static override flags = {};

  async run(): Promise<BootReport> {
    const {flags} = await this.parse(Start);
    const home = this.home(flags.home);
    const bar = progressBar('verifying', this.interactive(), systemClock);
    const r = await startOnce(home, (d, t) => bar.update(d, t));
    bar.done();
    if (!this.jsonEnabled()) {
      this.log(`astrid kernel booted (one-shot)`);
      this.log(`  home        ${r.home}`);
      this.log(`  kernel key  ${r.kernelKey}`);
      this.log(`  ledger head #${r.head.seq} ${r.head.hash}`);
      this.log(`  verify      ${r.verify.ok ? 'ok' : 'FAILED'} (${r.verify.entries} entries, ${r.verify.checkpoints.valid} valid checkpoints)`);
      for (const i of r.verify.issues) this.log(`    ${i.severity} ${i.code} at #${i.seq}: ${i.message}`);
      this.log(`  entries     ${Object.entries(r.stats.byKind).map(([k, n]) => `${k}=${n}`).join(' ')}`);
      this.log(`  snapshot    ${r.snapshot.used ? 'used' : 'rebuilt from genesis'}${r.snapshot.discarded ? ` (discarded: ${r.snapshot.discarded})` : ''}, folded ${r.snapshot.folded}`);
    }
    if (!r.verify.ok) process.exitCode = 1;
    return r;
  }
}
