import {AstridCommand, secretList, type SecretView} from '../../src/cli/index.js';

export default class SecretList extends AstridCommand {
  static override summary = 'List the stored secrets: names and the hosts each may be sent to, never values.';
  static override examples = ['<%= config.bin %> secret list', '<%= config.bin %> secret list --json'];

  async run(): Promise<SecretView[]> {
    const {flags} = await this.parse(SecretList);
    const r = await secretList(this.home(flags.home));
    for (const s of r) this.log(`${s.name.padEnd(32)} ${s.hosts.join(', ')}`);
    if (r.length === 0) this.log('(no secrets; astrid secret set NAME --host HOST < value)');
    return r;
  }
}
