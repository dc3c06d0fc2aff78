import {Args} from '@oclif/core';
import {AstridCommand, capsuleInstall, progressBar, systemClock, type CapsuleView} from '../../src/cli/index.js';

export default class CapsuleInstall extends AstridCommand {
  static override summary = 'Install a capsule package directory into the store.';
  static override description =
    'Reads capsule.toml and the module it names, checks the module\'s BLAKE3 against the manifest (CAPSULE_HASH_MISMATCH otherwise), ' +
    'validates it against ABI v1 (imports only from the astrid table, no start function, one memory within the budget), injects fuel ' +
    'metering, caches the instrumented module by the original\'s hash, and records capsule.installed in the ledger.';
  static override examples = ['<%= config.bin %> capsule install capsules/echo', '<%= config.bin %> capsule install ./my-tool --json'];
  static override args = {dir: Args.string({description: 'capsule package directory (holds capsule.toml)', required: true})};

  async run(): Promise<CapsuleView> {
    const {args, flags} = await this.parse(CapsuleInstall);
    const bar = progressBar('installing', this.interactive(), systemClock);
    const r = await capsuleInstall(this.home(flags.home), args.dir, (_s, d, t) => bar.update(d, t));
    bar.done();
    this.log(`installed ${r.name} ${r.version} (blake3:${r.hash}) at seq ${r.installedSeq}`);
    return r;
  }
}
