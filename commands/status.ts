import {AstridCommand, daemonStatus, type KernelStatus} from '../src/cli/index.js';

export default class Status extends AstridCommand {
  static override summary = 'Show the daemon: pid, uptime, ledger head, capsules, sessions, connections, approvals.';
  static override description =
    'Asks the running daemon. The state hashes (BLAKE3 of each projection the kernel rebuilds from the ledger) let you check that a restart brought back ' +
    'the same state. Exits 3 (and prints {"running": false}) when no daemon runs for the home.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json'];
  static override flags = {};

  async run(): Promise<KernelStatus | {running: false; home: string}> {
    const {flags} = await this.parse(Status);
    const s = await daemonStatus(this.home(flags.home));
    if (!s.running) {
      this.log(`no daemon running for ${s.home} (astrid start)`);
      process.exitCode = 3;
      return s;
    }
    this.log(`astrid ${s.version} daemon pid ${s.pid}, up ${Math.round(s.uptimeMs / 1000)} s (since ${s.startedAt})`);
    this.log(`  home         ${s.home}`);
    this.log(`  ledger head  #${s.head.seq} ${s.head.hash} (checkpointed through #${s.checkpointedSeq})`);
    this.log(`  verified     at boot: ${s.verification.boot === 'full' ? 'whole chain' : 'tail after the anchor'}; whole chain: ${s.verification.full}`);
    this.log(`  capsules     ${s.capsules.map((c) => `${c.name}${c.lastOutcome ? ` (${c.lastOutcome})` : ''}`).join(', ') || '(none)'}`);
    this.log(`  sessions     ${s.sessions.running} running (${s.sessions.live.length} live), ${s.sessions.total} in all`);
    for (const l of s.sessions.live) this.log(`    ${l.id} ${l.principal}/${l.capsule}`);
    this.log(`  connections  ${s.connections}`);
    this.log(`  approvals    ${s.approvals.pending} pending`);
    this.log(`  state        ${s.state.all}`);
    return s;
  }
}
