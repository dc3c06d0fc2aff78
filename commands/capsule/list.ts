import {AstridCommand, capsuleList, type CapsuleView} from '../../src/cli/index.js';

export default class CapsuleList extends AstridCommand {
  static override summary = 'List installed capsules.';
  static override description = 'The installed set is a projection of capsule.installed / capsule.removed ledger entries.';
  static override examples = ['<%= config.bin %> capsule list', '<%= config.bin %> capsule list --json'];

  async run(): Promise<CapsuleView[]> {
    const {flags} = await this.parse(CapsuleList);
    const r = await capsuleList(this.home(flags.home));
    for (const c of r) this.log(`${c.name.padEnd(24)} ${c.version.padEnd(10)} blake3:${c.hash.slice(0, 16)}…`);
    if (r.length === 0) this.log('(no capsules installed; try: astrid capsule install capsules/echo)');
    return r;
  }
}
