import {Args, Flags} from '@oclif/core';
import {AstridCommand, tokenRevoke} from '../src/cli/index.js';

export default class Revoke extends AstridCommand {
  static override summary = 'Revoke a token; every token delegated from it is revoked with it.';
  static override examples = ['<%= config.bin %> revoke tk_0123456789abcdef0123456789abcdef --reason "agent misbehaved"'];
  static override args = {id: Args.string({description: 'token id (tk_...)', required: true})};
  static override flags = {reason: Flags.string({description: 'why (recorded in the ledger)', default: 'revoked by the owner'})};

  async run(): Promise<{id: string; already: boolean; descendants: string[]}> {
    const {args, flags} = await this.parse(Revoke);
    const r = await tokenRevoke(this.home(flags.home), args.id, flags.reason);
    this.log(r.already ? `${r.id} was already revoked` : `revoked ${r.id}${r.descendants.length ? ` and with it ${r.descendants.length} descendant(s): ${r.descendants.join(', ')}` : ''}`);
    return r;
  }
}
