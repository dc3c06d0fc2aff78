import {Args, Flags} from '@oclif/core';
import {AstridCommand, auditNote, type NoteResult} from '../../src/cli/index.js';

export default class AuditNote extends AstridCommand {
  static override summary = 'Append an owner annotation to the ledger.';
  static override description = 'Appends an entry of kind "note" (principal owner, actor cli) and prints its seq and hash once it is durable.';
  static override examples = ['<%= config.bin %> audit note "rotated the API key"', '<%= config.bin %> audit note "incident 42 opened" --session incident-42 --json'];
  static override args = {text: Args.string({description: 'the note (1 to 4096 characters)', required: true})};
  static override flags = {session: Flags.string({description: 'session to file the note under', default: 'cli'})};

  async run(): Promise<NoteResult> {
    const {args, flags} = await this.parse(AuditNote);
    const r = await auditNote(this.home(flags.home), args.text, flags.session);
    this.log(`seq ${r.seq} hash ${r.hash}`);
    return r;
  }
}
