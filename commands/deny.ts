import {Args, Flags} from '@oclif/core';
import {AstridCommand, approvalAnswer, type ApprovalView} from '../src/cli/index.js';

export default class Deny extends AstridCommand {
  static override summary = 'Deny a pending approval request.';
  static override examples = ['<%= config.bin %> deny ap-0123456789abcdef --reason "not for this agent"'];
  static override args = {id: Args.string({description: 'approval id (see astrid approvals)', required: true})};
  static override flags = {reason: Flags.string({description: 'why (recorded in the ledger)'})};

  async run(): Promise<ApprovalView> {
    const {args, flags} = await this.parse(Deny);
    const r = await approvalAnswer(this.home(flags.home), args.id, 'denied', undefined, flags.reason);
    this.log(`denied ${r.id}: ${r.resource}`);
    return r;
  }
}
