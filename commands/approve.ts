import {Args, Flags} from '@oclif/core';
import {AstridCommand, approvalAnswer, type ApprovalView} from '../src/cli/index.js';

export default class Approve extends AstridCommand {
  static override summary = 'Approve a pending request as the owner: once, for the session, or always (mints a token for exactly that resource).';
  static override examples = ['<%= config.bin %> approve ap-0123456789abcdef', '<%= config.bin %> approve ap-0123456789abcdef --scope always --json'];
  static override args = {id: Args.string({description: 'approval id (see astrid approvals)', required: true})};
  static override flags = {
    scope: Flags.string({description: 'how far the approval reaches', options: ['once', 'session', 'always'], default: 'once'}),
    reason: Flags.string({description: 'note recorded with the answer'}),
  };

  async run(): Promise<ApprovalView> {
    const {args, flags} = await this.parse(Approve);
    const r = await approvalAnswer(this.home(flags.home), args.id, 'approved', flags.scope as 'once' | 'session' | 'always', flags.reason);
    this.log(`approved ${r.id} (${r.scope}) for ${r.principal}: ${r.resource}${r.token ? ` — token ${r.token}` : ''}`);
    return r;
  }
}
