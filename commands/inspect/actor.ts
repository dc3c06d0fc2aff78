import {Args} from '@oclif/core';
import {AstridCommand, actorInspect, type ActorView} from '../../src/cli/index.js';

export default class InspectActor extends AstridCommand {
  static override summary = 'Show the kernel\'s live actors (principals, sessions, capsules, services, approvals), or one of them.';
  static override description =
    'Each actor is an XState machine; this prints its state and context. Ids: principal:<name>, session:<id>, capsule:<session>/<name>, service:<fs.write|http|approval|spawn>, approval:<id>. ' +
    'A session the ledger says is running but no kernel runs (a crash interrupted it) is in state "interrupted". ACTOR_NOT_FOUND when the id names no live actor.';
  static override examples = ['<%= config.bin %> inspect actor', '<%= config.bin %> inspect actor principal:owner --json', '<%= config.bin %> inspect actor service:http', '<%= config.bin %> inspect actor session:s-0123456789abcdef'];
  static override args = {id: Args.string({description: 'actor id (default: list them all)', required: false})};

  async run(): Promise<ActorView[]> {
    const {args, flags} = await this.parse(InspectActor);
    const r = await actorInspect(this.home(flags.home), args.id);
    for (const a of r) this.log(`${a.id.padEnd(40)} ${a.kind.padEnd(10)} ${a.state.padEnd(12)} ${JSON.stringify(a.context)}`);
    if (r.length === 0) this.log('(no live actors)');
    return r;
  }
}
