import {Flags} from '@oclif/core';
import {AstridCommand, grantIssue, type TokenView} from '../src/cli/index.js';

export const tokenFlags = {
  resource: Flags.string({description: 'a resource (repeatable): fs.read:/srv/**, fs.write:/tmp/out/*, kv:notes, bus.send:tool.*, net.http:GET https://api.example.com/v1/, spawn:echo', multiple: true}),
  budget: Flags.string({description: 'token budget: fuel=N,memory_pages=N,wall_ms=N,messages=N,egress_bytes=N', helpValue: '<spec>'}),
  expires: Flags.string({description: 'expiry: a duration from now (30s, 15m, 2h, 7d) or an ISO date', helpValue: '<when>'}),
  'not-before': Flags.string({description: 'not valid before: a duration from now or an ISO date', helpValue: '<when>'}),
  caveat: Flags.string({description: 'caveat (repeatable): single-use, max-uses=N, capsule=<blake3>, allow=TYPE:VALUE', multiple: true}),
};

/** The optional token flags, as grantIssue / tokenAttenuate take them. */
export function tokenOptions(f: {budget?: string | undefined; expires?: string | undefined; 'not-before'?: string | undefined; caveat?: string[] | undefined}): {
  budget?: string;
  expires?: string;
  notBefore?: string;
  caveats: string[];
} {
  return {
    ...(f.budget === undefined ? {} : {budget: f.budget}),
    ...(f.expires === undefined ? {} : {expires: f.expires}),
    ...(f['not-before'] === undefined ? {} : {notBefore: f['not-before']}),
    caveats: f.caveat ?? [],
  };
}

export default class Grant extends AstridCommand {
  static override summary = 'Grant a principal a capability token signed with the owner key; prints the token id.';
  static override description =
    'The token names exactly the resources given (grammar: docs/security.md), an optional budget, validity window and caveats. ' +
    'It is recorded as grant.issued in the ledger; `astrid run --token <id>` runs a capsule under it.';
  static override examples = [
    '<%= config.bin %> grant --to researcher --resource \'fs.read:/srv/project/**\' --resource \'bus.send:tool.fs.*\' --expires 2h',
    '<%= config.bin %> grant --to researcher --resource kv:notes --budget fuel=500000000,messages=100 --caveat max-uses=50 --json',
  ];
  static override flags = {
    to: Flags.string({description: 'principal the token is for', required: true}),
    ...tokenFlags,
    resource: Flags.string({description: 'a resource (repeatable; at least one): fs.read:/srv/**, kv:notes, bus.send:tool.*, net.http:GET https://api.example.com/v1/', multiple: true, required: true}),
  };

  async run(): Promise<TokenView> {
    const {flags} = await this.parse(Grant);
    const t = await grantIssue(this.home(flags.home), {
      to: flags.to,
      resources: flags.resource,
      ...tokenOptions(flags),
    });
    this.log(t.id);
    return t;
  }
}
