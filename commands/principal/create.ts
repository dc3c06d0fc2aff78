import {Args, Flags} from '@oclif/core';
import {AstridCommand, principalCreate, type PrincipalView} from '../../src/cli/index.js';

export default class PrincipalCreate extends AstridCommand {
  static override summary = 'Create a principal (an agent by default, or a human user) with its own signing key.';
  static override description =
    'Generates an Ed25519 key at $ASTRID_HOME/keys/principals/<name>.key (0600) and records principal.created with its public key. ' +
    'Tokens granted to the principal are bound to this key; only its holder can attenuate them. Humans (--human) can answer approvals.';
  static override examples = ['<%= config.bin %> principal create researcher', '<%= config.bin %> principal create alice --human --json'];
  static override args = {name: Args.string({description: 'principal name: lowercase letters, digits and dashes', required: true})};
  static override flags = {human: Flags.boolean({description: 'a human user (may answer approvals) rather than an agent', default: false})};

  async run(): Promise<PrincipalView> {
    const {args, flags} = await this.parse(PrincipalCreate);
    const p = await principalCreate(this.home(flags.home), args.name, flags.human ? 'user' : 'agent');
    this.log(`principal ${p.name} (${p.role}) key ${p.key} at seq ${p.seq}`);
    return p;
  }
}
