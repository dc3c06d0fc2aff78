import {Args} from '@oclif/core';
import {AstridCommand, tokenShow, type TokenView} from '../../src/cli/index.js';

export default class TokenShow extends AstridCommand {
  static override summary = 'Show a token: decoded fields, its chain to the owner\'s root key, and its status.';
  static override examples = ['<%= config.bin %> token show tk_0123456789abcdef0123456789abcdef', '<%= config.bin %> token show tk_0123456789abcdef0123456789abcdef --json'];
  static override args = {id: Args.string({description: 'token id (tk_...)', required: true})};

  async run(): Promise<TokenView> {
    const {args, flags} = await this.parse(TokenShow);
    const t = await tokenShow(this.home(flags.home), args.id);
    this.log(`${t.id}  ${t.status}${t.reason ? ` (${t.reason})` : ''}`);
    if (t.token !== null) {
      for (const [k, v] of Object.entries(t.token)) if (k !== 'id') this.log(`  ${k.padEnd(11)} ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
    this.log(`  chain       ${t.chain.map((c) => `${c.id} (${c.subject}, signed by ${c.issuer}, ${c.status})`).join(' <- ') || '-'}`);
    this.log(`  uses        ${t.uses}   spent ${Object.entries(t.spent).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    return t;
  }
}
