import {Flags} from '@oclif/core';
import {AstridCommand, Daemon, binPath, daemonSpawn, progressBar, systemClock, type DaemonBoot, type KernelStatus} from '../src/cli/index.js';

export default class Start extends AstridCommand {
  static override summary = 'Start the kernel daemon for this home.';
  static override description =
    'Opens the home under $ASTRID_HOME (creating it on first use), verifies the whole ledger against its signed checkpoints (a ledger with errors does not boot), ' +
    'records kernel.boot, rebuilds the kernel state (grants, approvals, sessions, capsules, kv) from the ledger, checks every installed capsule, and listens on ' +
    '$ASTRID_HOME/run/astrid.sock (directory 0700, socket 0600, handshake token in run/token). While it runs it is the ledger\'s only writer and every ' +
    'command goes through it. By default the daemon goes to the background (its log: run/daemon.log) and this command prints its status once it answers; ' +
    'with --foreground it runs in this terminal until SIGINT/SIGTERM or astrid stop.';
  static override examples = ['<%= config.bin %> start', '<%= config.bin %> start --json', '<%= config.bin %> start --foreground --home /tmp/astrid'];
  static override flags = {
    foreground: Flags.boolean({description: 'run in this process (logs to stdout) instead of in the background', default: false}),
    'full-verify': Flags.boolean({
      description: 'verify the whole ledger before serving (default: the tail after the last checkpoint this kernel signed before serving, the whole ledger in the background; a failure stops the daemon)',
      default: false,
    }),
  };

  async run(): Promise<KernelStatus | DaemonBoot> {
    const {flags} = await this.parse(Start);
    const home = this.home(flags.home);
    if (!flags.foreground) {
      const bar = progressBar('starting daemon', this.interactive(), systemClock);
      const s = await daemonSpawn(home, binPath(this.config.root), 180_000, (ms) => bar.update(Math.min(ms, 179_000), 180_000), flags['full-verify']);
      bar.done();
      if (!this.jsonEnabled()) {
        this.log(`astrid daemon running (pid ${s.pid})`);
        this.log(`  home        ${s.home}`);
        this.log(`  socket      ${s.socket}`);
        this.log(`  kernel key  ${s.kernelKey}`);
        this.log(`  ledger head #${s.head.seq} ${s.head.hash}`);
        this.log(`  capsules    ${s.capsules.length}, sessions running ${s.sessions.running}, approvals pending ${s.approvals.pending}`);
        this.log('  stop it with: astrid stop');
      }
      return s;
    }
    const log = (line: string): void => {
      process.stdout.write(`${new Date(systemClock.now()).toISOString()} ${line}\n`);
    };
    const d = await Daemon.start({home, log, fullVerify: flags['full-verify']});
    const b = d.boot;
    log(`astrid daemon pid ${b.pid} listening on ${b.socket}`);
    log(`ledger head #${b.head.seq} ${b.head.hash}; verified ${b.verified === 'full' ? 'the whole chain' : 'the tail'} (${b.verify.entries} entries, ${b.verify.checkpoints.valid} checkpoints); boot ${b.bootMs} ms`);
    log(`state: ${b.rebuilt.map((r) => `${r.name} from ${r.source} +${r.folded}`).join(', ')}`);
    for (const i of b.verify.issues) log(`verify ${i.severity} ${i.code} at #${i.seq}: ${i.message}`);
    log(`capsules loaded ${b.capsules.loaded}${b.capsules.failed.length ? `, failed ${b.capsules.failed.map((f) => `${f.name} (${f.code})`).join(', ')}` : ''}`);
    const onSignal = (sig: string) => () => void d.stop(`signal ${sig}`);
    process.once('SIGINT', onSignal('SIGINT'));
    process.once('SIGTERM', onSignal('SIGTERM'));
    await d.stopped;
    log(`stopped: ${d.stopReason}`);
    return b;
  }
}
