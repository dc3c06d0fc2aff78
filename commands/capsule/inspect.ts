import {Args} from '@oclif/core';
import {AstridCommand, capsuleInspect, type CapsuleDetail} from '../../src/cli/index.js';

export default class CapsuleInspect extends AstridCommand {
  static override summary = 'Show an installed capsule: manifest, hashes, imports, exports, memory.';
  static override description = 'Re-checks the stored module hashes before showing anything.';
  static override examples = ['<%= config.bin %> capsule inspect echo', '<%= config.bin %> capsule inspect fs-tool --json'];
  static override args = {name: Args.string({description: 'capsule name', required: true})};

  async run(): Promise<CapsuleDetail> {
    const {args, flags} = await this.parse(CapsuleInspect);
    const r = await capsuleInspect(this.home(flags.home), args.name);
    const m = r.manifest;
    this.log(`${r.name} ${r.version}`);
    this.log(`  module      blake3:${r.hash}`);
    this.log(`  metered     blake3:${r.instrumentedHash}`);
    this.log(`  handles     ${m.topics.handles.join(', ') || '-'}`);
    this.log(`  sends       ${m.topics.sends.join(', ') || '-'}`);
    for (const [k, v] of Object.entries(m.resources)) if ((v as string[]).length > 0) this.log(`  ${k.padEnd(11)} ${(v as string[]).join(', ')}`);
    this.log(`  budget      fuel=${m.budget.fuel} memory_pages=${m.budget.memory_pages} wall_ms=${m.budget.wall_ms}`);
    this.log(`  imports     ${r.imports.map((i) => `${i.module}.${i.name}`).join(', ') || '-'}`);
    this.log(`  memory      initial ${r.memory.initial} pages, maximum ${r.memory.maximum ?? 'none'} (clamped to the budget)`);
    return r;
  }
}
