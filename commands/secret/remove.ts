import {Args} from '@oclif/core';
import {AstridCommand, secretRemove} from '../../src/cli/index.js';

export default class SecretRemove extends AstridCommand {
  static override summary = 'Remove a stored secret.';
  static override examples = ['<%= config.bin %> secret remove API_TOKEN', '<%= config.bin %> secret remove API_TOKEN --json'];
  static override args = {name: Args.string({description: 'secret name', required: true})};

  async run(): Promise<{name: string; seq: number}> {
    const {args, flags} = await this.parse(SecretRemove);
    const r = await secretRemove(this.home(flags.home), args.name);
    this.log(`secret ${r.name} removed (secret.removed at seq ${r.seq})`);
    return r;
  }
}
