import {Args, Flags} from '@oclif/core';
import {AstridCommand, sessionEnd, type SessionView} from '../../src/cli/index.js';

export default class SessionEnd extends AstridCommand {
  static override summary = 'End a running session.';
  static override description =
    'A live session stops after its current activation (its session token is revoked, session.ended is recorded with SESSION_ENDED); a session a crash ' +
    'interrupted is closed in the ledger the same way. Exits 1 with SESSION_NOT_RUNNING when it already ended.';
  static override examples = ['<%= config.bin %> session end s-0123456789abcdef', '<%= config.bin %> session end s-0123456789abcdef --reason "runaway" --json'];
  static override args = {id: Args.string({description: 'session id', required: true})};
  static override flags = {reason: Flags.string({description: 'why (recorded)', default: 'ended by the owner'})};

  async run(): Promise<SessionView> {
    const {args, flags} = await this.parse(SessionEnd);
    const s = await sessionEnd(this.home(flags.home), args.id, flags.reason);
    this.log(`session ${s.id}: ${s.status}${s.code ? ` ${s.code}` : ''}`);
    return s;
  }
}
