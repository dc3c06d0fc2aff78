import {Args} from '@oclif/core';
import {AstridCommand, capsuleBuild, type BuildResult} from '../../src/cli/index.js';

export default class CapsuleBuild extends AstridCommand {
  static override summary = 'Compile a TypeScript (AssemblyScript) capsule and pin its hash.';
  static override description =
    'Compiles <dir>/assembly/index.ts with the AssemblyScript compiler and the astrid-sdk to a wasm32-unknown-unknown module, ' +
    'checks it against ABI v1, writes the module named in capsule.toml, and writes its BLAKE3 into capsule.toml. Deterministic: the ' +
    'same source gives the same bytes.';
  static override examples = ['<%= config.bin %> capsule build capsules/echo', '<%= config.bin %> capsule build ./my-tool --json'];
  static override args = {dir: Args.string({description: 'capsule directory (holds capsule.toml and assembly/index.ts)', required: true})};

  async run(): Promise<BuildResult> {
    const {args} = await this.parse(CapsuleBuild);
    const interactive = this.interactive();
    const r = await capsuleBuild(args.dir, interactive ? (p) => process.stderr.write(`\r\u001b[2K${p.stage}: ${p.message}`) : undefined);
    if (interactive) process.stderr.write('\r\u001b[2K');
    this.log(`built ${r.wasmPath} (${r.bytes} bytes) blake3:${r.hash}`);
    return r;
  }
}
