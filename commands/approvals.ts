import {Flags} from '@oclif/core';
import {AstridCommand, approvalsList, type ApprovalView} from '../src/cli/index.js';

export default class Approvals extends AstridCommand {
  static override summary = 'List approval requests waiting for a human (or all of them with --all).';
  static override description = 'A request unanswered by its deadline counts as denied. Answer with astrid approve <id> or astrid deny <id>.';
  static override examples = ['<%= config.bin %> approvals', '<%= config.bin %> approvals --all --json'];
  static override flags = {all: Flags.boolean({description: 'include answered and expired approvals', default: false})};

  async run(): Promise<ApprovalView[]> {
    const {flags} = await this.parse(Approvals);
    const r = await approvalsList(this.home(flags.home), flags.all);
    for (const a of r) this.log(`${a.id} ${a.status.padEnd(8)} ${a.principal}/${a.capsule} ${a.resource}  (until ${a.expires}${a.scope ? `, ${a.scope}` : ''})`);
    if (r.length === 0) this.log(flags.all ? '(no approvals)' : '(nothing waiting)');
    return r;
  }
}
