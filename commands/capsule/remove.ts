import {Args} from '@oclif/core';
import {AstridCommand, capsuleRemove} from '../../src/cli/index.js';

export default class CapsuleRemove extends AstridCommand {
  static override summary = 'Remove an installed capsule.';
  static override description = 'Records capsule.removed; the content-addressed module stays in the store (it may be shared).';
  static override examples = ['<%= config.bin %> capsule remove echo'];
  static override args = {name: Args.string({description: 'capsule name', required: true})};

  async run(): Promise<{name: string; hash: string; seq: number}> {
    const {args, flags} = await this.parse(CapsuleRemove);
    const r = await capsuleRemove(this.home(flags.home), args.name);
    this.log(`removed ${r.name} at seq ${r.seq}`);
    return r;
  }
}
