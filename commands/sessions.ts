import {Flags} from '@oclif/core';
import {AstridCommand, sessionList, type SessionView} from '../src/cli/index.js';

export default class Sessions extends AstridCommand {
  static override summary = 'List sessions: running ones, or all with --all (newest first).';
  static override description =
    'A session is running until its session.ended entry. "live" means this kernel is running it now; a running session that is not live was interrupted ' +
    '(the daemon crashed or restarted): end it with astrid session end <id>.';
  static override examples = ['<%= config.bin %> sessions', '<%= config.bin %> sessions --all --json'];
  static override flags = {all: Flags.boolean({description: 'include ended sessions', default: false})};

  async run(): Promise<SessionView[]> {
    const {flags} = await this.parse(Sessions);
    const r = await sessionList(this.home(flags.home), flags.all);
    for (const s of r) {
      const state = s.status === 'running' ? (s.live ? 'running' : 'interrupted') : `${s.status}${s.code ? ` ${s.code}` : ''}`;
      this.log(`${s.id}  ${state.padEnd(12)} ${s.principal}/${s.capsule}  ${s.activations} activation(s), fuel ${s.fuelUsed}  started ${new Date(s.startedAt).toISOString()}`);
    }
    if (r.length === 0) this.log(flags.all ? '(no sessions)' : '(no running sessions; --all for ended ones)');
    return r;
  }
}
