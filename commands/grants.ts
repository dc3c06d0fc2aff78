import {Flags} from '@oclif/core';
import {AstridCommand, grantList, type TokenView} from '../src/cli/index.js';

export default class Grants extends AstridCommand {
  static override summary = 'List capability tokens and their status (active, revoked, expired, used-up, invalid).';
  static override description = 'The grant store is a projection of grant.issued / grant.revoked / grant.used entries; each token\'s chain is verified to the owner key.';
  static override examples = ['<%= config.bin %> grants', '<%= config.bin %> grants --principal researcher --json'];
  static override flags = {principal: Flags.string({description: 'only tokens for this principal'})};

  async run(): Promise<TokenView[]> {
    const {flags} = await this.parse(Grants);
    const r = await grantList(this.home(flags.home), flags.principal);
    for (const t of r) {
      const res = (t.token?.resources as string[] | undefined)?.join(' ') ?? '';
      this.log(`${t.id} ${t.status.padEnd(13)} ${String(t.token?.subject ?? '?').padEnd(16)} ${res}${t.reason ? `  (${t.reason})` : ''}`);
    }
    if (r.length === 0) this.log('(no tokens)');
    return r;
  }
}
