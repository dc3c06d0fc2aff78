import {Args} from '@oclif/core';
import {AstridCommand, sessionShow, type SessionView} from '../../src/cli/index.js';

export default class SessionShow extends AstridCommand {
  static override summary = 'Show one session: principal, capsule, grants, status, activations.';
  static override description = 'Its entries are in the ledger: astrid audit show --session <id>.';
  static override examples = ['<%= config.bin %> session show s-0123456789abcdef', '<%= config.bin %> session show s-0123456789abcdef --json'];
  static override args = {id: Args.string({description: 'session id', required: true})};

  async run(): Promise<SessionView> {
    const {args, flags} = await this.parse(SessionShow);
    const s = await sessionShow(this.home(flags.home), args.id);
    this.log(`session ${s.id}: ${s.status === 'running' ? (s.live ? 'running' : 'interrupted (not live)') : s.status}${s.code ? ` ${s.code}` : ''}`);
    this.log(`  principal   ${s.principal}`);
    this.log(`  capsule     ${s.capsule} ${s.hash}`);
    this.log(`  grants      ${s.grants.join(', ') || '(none)'}`);
    this.log(`  started     #${s.startedSeq} ${new Date(s.startedAt).toISOString()}`);
    if (s.endedSeq > 0) this.log(`  ended       #${s.endedSeq} ${new Date(s.endedAt).toISOString()}`);
    this.log(`  activations ${s.activations}, fuel ${s.fuelUsed}`);
    return s;
  }
}
