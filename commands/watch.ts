import {Flags} from '@oclif/core';
import {AstridCommand, busWatch, type WatchResult} from '../src/cli/index.js';

type Watched = WatchResult & {messages: Array<Record<string, unknown>>};

export default class Watch extends AstridCommand {
  static override summary = 'Watch messages on the kernel bus as sessions send them.';
  static override description =
    'Prints every capsule message and session event (kernel.session.started / kernel.session.ended) matching the patterns, as the daemon delivers it: ' +
    'each is already recorded in the ledger (its seq is shown) and durable. Patterns use the topic grammar (* one segment, trailing > one or more); ' +
    'the default is > (everything). Runs until --limit messages, --timeout, or Ctrl-C. Needs a running daemon (DAEMON_NOT_RUNNING otherwise).';
  static override examples = ['<%= config.bin %> watch', '<%= config.bin %> watch \'tool.fs.>\' \'kernel.session.*\'', '<%= config.bin %> watch --limit 10 --timeout 30 --json'];
  static override strict = false;
  static override args = {};
  static override flags = {
    limit: Flags.integer({description: 'stop after this many messages', min: 1, max: 100_000}),
    timeout: Flags.integer({description: 'stop after this many seconds', min: 1, max: 86_400}),
  };

  async run(): Promise<Watched> {
    const {argv, flags} = await this.parse(Watch);
    const patterns = (argv as string[]).length > 0 ? (argv as string[]) : ['>'];
    const r = await busWatch(
      this.home(flags.home),
      {patterns, ...(flags.limit === undefined ? {} : {limit: flags.limit}), ...(flags.timeout === undefined ? {} : {timeoutMs: flags.timeout * 1000}), collect: this.jsonEnabled()},
      (e) => {
        if (this.jsonEnabled() || e.type !== 'message') return;
        this.log(`#${String(e.seq)}  ${String(e.topic).padEnd(28)} ${String(e.from)} ${String(e.session)}/${String(e.principal)}  ${JSON.stringify(e.payload)}`);
      },
    );
    if (!this.jsonEnabled()) this.log(`(${r.count} message(s); ${r.reason})`);
    return r;
  }
}
