import {AstridCommand, principalList, type PrincipalView} from '../../src/cli/index.js';

export default class PrincipalList extends AstridCommand {
  static override summary = 'List principals and their public keys.';
  static override examples = ['<%= config.bin %> principal list', '<%= config.bin %> principal list --json'];

  async run(): Promise<PrincipalView[]> {
    const {flags} = await this.parse(PrincipalList);
    const r = await principalList(this.home(flags.home));
    for (const p of r) this.log(`${p.name.padEnd(24)} ${p.role.padEnd(6)} ${p.key}`);
    if (r.length === 0) this.log('(no principals yet; the owner is registered by the first command that writes)');
    return r;
  }
}
