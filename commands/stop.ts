import {Flags} from '@oclif/core';
import {AstridCommand, daemonStop} from '../src/cli/index.js';

export default class Stop extends AstridCommand {
  static override summary = 'Stop the daemon: drain, checkpoint and close.';
  static override description =
    'Asks the daemon to stop: it refuses new requests, ends live sessions after their current activation, answers requests in flight, records kernel.shutdown, ' +
    'closes the ledger with a signed checkpoint and removes its socket, token and pid files. Waits until the process is gone. Exits 1 with DAEMON_NOT_RUNNING when none runs.';
  static override examples = ['<%= config.bin %> stop', '<%= config.bin %> stop --reason "upgrade" --json'];
  static override flags = {reason: Flags.string({description: 'why (recorded in kernel.shutdown)', default: 'astrid stop'})};

  async run(): Promise<{stopped: true; pid: number; ms: number}> {
    const {flags} = await this.parse(Stop);
    const r = await daemonStop(this.home(flags.home), flags.reason);
    this.log(`stopped daemon pid ${r.pid} (${r.ms} ms)`);
    return r;
  }
}
