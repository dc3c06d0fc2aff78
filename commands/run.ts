import {Args, Flags} from '@oclif/core';
import {AstridCommand, ApprovalPrompter, runCapsule, type RunView} from '../src/cli/index.js';

export default class Run extends AstridCommand {
  static override summary = 'Run an installed capsule for one message in a fresh session.';
  static override description =
    'Runs in the daemon when one is running for the home (and says so), else in this process. Creates a session under a principal (the owner with --grant, the token\'s subject with --token) with exactly the authority given (nothing else), delivers one message to the capsule, ' +
    'performs any effects it requests that the grants allow (after their ledger entries are durable), prints what it sent, and ends ' +
    'the session. Every step is in the ledger (astrid audit show --session <id>). Grants use the resource grammar of docs/security.md. ' +
    'Exits 1 when the capsule trapped, ran out of budget or failed.';
  static override examples = [
    '<%= config.bin %> run echo --grant bus.send:echo.reply --topic echo.hello --input \'{"text":"hi"}\'',
    '<%= config.bin %> run fs-tool --grant \'fs.read:/srv/project/**\' --grant \'bus.send:tool.fs.*\' --topic tool.fs.read --input \'{"path":"/srv/project/README.md"}\' --json',
    '<%= config.bin %> run fs-tool --token tk_0123456789abcdef0123456789abcdef --topic tool.fs.read --input \'{"path":"/srv/project/README.md"}\'',
    '<%= config.bin %> run kv-notes --grant kv:notes --grant \'bus.send:notes.*\' --topic notes.add --input \'{"text":"buy milk"}\' --budget fuel=50000000,wall_ms=500',
  ];
  static override args = {capsule: Args.string({description: 'installed capsule name', required: true})};
  static override flags = {
    grant: Flags.string({description: 'a resource the session may use (repeatable), e.g. fs.read:/srv/**, kv:notes, bus.send:tool.*; minted as an owner token for this session only', multiple: true, default: []}),
    token: Flags.string({description: 'run under an existing token (repeatable, tk_...); the session\'s principal is the token\'s subject', multiple: true, default: []}),
    'session-budget': Flags.string({description: 'totals for the whole session: fuel=N,wall_ms=N,messages=N,egress_bytes=N', helpValue: '<spec>'}),
    ask: Flags.boolean({description: 'when no token covers a request, open an approval request for a human (astrid approvals) instead of only denying', default: false}),
    wait: Flags.boolean({
      description: 'with --ask: wait for the answers (from any terminal: astrid approve) and deliver the message again when one is yes; on a terminal this is the default, with an inline prompt',
      allowNo: true,
    }),
    budget: Flags.string({description: 'per-activation budget override: fuel=N,memory_pages=N,wall_ms=N', helpValue: '<spec>'}),
    topic: Flags.string({description: 'topic of the message to deliver (default: the capsule\'s first concrete handled topic)'}),
    input: Flags.string({description: 'JSON payload of the message', default: '{}'}),
  };

  async run(): Promise<RunView> {
    const {args, flags} = await this.parse(Run);
    const prompting = flags.ask && this.interactive() && process.stdin.isTTY === true && flags.wait !== false;
    const prompter = prompting ? new ApprovalPrompter() : undefined;
    const r = await runCapsule(this.home(flags.home), {
      capsule: args.capsule,
      grants: flags.grant,
      tokens: flags.token,
      ask: flags.ask,
      wait: flags.ask && (flags.wait ?? prompting),
      ...(flags['session-budget'] === undefined ? {} : {sessionBudget: flags['session-budget']}),
      input: flags.input,
      ...(flags.budget === undefined ? {} : {budget: flags.budget}),
      ...(flags.topic === undefined ? {} : {topic: flags.topic}),
    }, (e, call) => {
      if (e.type === 'approval' && prompter !== undefined) prompter.ask(e, call);
      if (this.jsonEnabled()) return;
      if (e.type === 'approval' && prompter === undefined) this.log(`  waiting for approval ${String(e.id)}: ${String(e.capsule)} asks for ${String(e.resource)} (astrid approve ${String(e.id)} --scope once)`);
      if (e.type === 'session.started') this.log(`session ${String(e.session)} started ${e.where === 'daemon' ? 'in the daemon' : 'in-process (no daemon running)'} as ${String(e.principal)}`);
      else if (e.type === 'activation') this.log(`  activation: ${String(e.outcome)}, fuel ${String(e.fuelUsed)}`);
    });
    if (!this.jsonEnabled()) {
      this.log(`session ${r.session} (${r.where}): ${r.status}${r.code ? ` ${r.code}` : ''}${r.message ? ` — ${r.message}` : ''}`);
      for (const s of r.sends) this.log(`  sent ${s.topic} ${JSON.stringify(s.payload)}`);
      this.log(`  principal ${r.principal} under ${r.tokens.join(', ') || 'no token'}`);
      for (const d of r.denials) this.log(`  denied (${d.layer}/${d.rule}) ${d.resource}: ${d.reason}`);
      // what a token would have allowed: say how to grant it (never for a --token run, whose authority is fixed)
      const uncovered = [...new Set(r.denials.filter((d) => d.layer === 'token').map((d) => d.resource))];
      if (uncovered.length > 0 && flags.token.length === 0) {
        this.log(`  to allow it, run again with ${uncovered.map((x) => `--grant '${x}'`).join(' ')} (or --ask, to decide as it happens)`);
      }
      this.log(`  fuel used ${r.fuelUsed} over ${r.activations} activation(s)`);
    }
    if (r.status !== 'ok') process.exitCode = 1;
    return r;
  }
}
