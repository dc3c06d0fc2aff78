import {Args, Flags} from '@oclif/core';
import {AstridCommand, capsuleNew} from '../../src/cli/index.js';

export default class CapsuleNew extends AstridCommand {
  static override summary = 'Scaffold a new TypeScript (AssemblyScript) capsule.';
  static override description =
    'Creates <dir>/<name>/ with capsule.toml, assembly/index.ts (an echo-like handler using the astrid-sdk) and a README. ' +
    'Then: astrid capsule build <dir>/<name> && astrid capsule install <dir>/<name>.';
  static override examples = ['<%= config.bin %> capsule new my-tool', '<%= config.bin %> capsule new my-tool --dir ./capsules'];
  static override args = {name: Args.string({description: 'capsule name (lowercase letters, digits, dashes; starts with a letter)', required: true})};
  static override flags = {dir: Flags.string({description: 'parent directory', default: '.'})};

  async run(): Promise<{dir: string}> {
    const {args, flags} = await this.parse(CapsuleNew);
    const r = await capsuleNew(flags.dir, args.name);
    this.log(`created ${r.dir}`);
    this.log(`next: astrid capsule build ${r.dir} && astrid capsule install ${r.dir}`);
    this.log(`then: astrid run ${args.name} --grant bus.send:${args.name}.reply --topic ${args.name}.hello --input '"hi"'`);
    return r;
  }
}
