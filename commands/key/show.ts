import {AstridCommand, kernelPublicKey} from '../../src/cli/index.js';

export default class KeyShow extends AstridCommand {
  static override summary = 'Print the kernel public key.';
  static override description = 'The Ed25519 public key that signs ledger checkpoints; give it to whoever verifies your exported bundles.';
  static override examples = ['<%= config.bin %> key show', '<%= config.bin %> key show --json'];

  async run(): Promise<{publicKey: string; path: string; pubPath: string}> {
    const {flags} = await this.parse(KeyShow);
    const r = await kernelPublicKey(this.home(flags.home));
    this.log(r.publicKey);
    return r;
  }
}
