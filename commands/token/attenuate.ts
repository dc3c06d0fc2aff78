import {Args, Flags} from '@oclif/core';
import {AstridCommand, tokenAttenuate, type TokenView} from '../../src/cli/index.js';
import {tokenFlags, tokenOptions} from '../grant.js';

export default class TokenAttenuate extends AstridCommand {
  static override summary = 'Delegate a narrower child of a token to another principal, signed by the token\'s holder.';
  static override description =
    'Resources default to the parent\'s; budget axes given replace the parent\'s and the rest are inherited; caveats are added to the parent\'s. ' +
    'Anything wider than the parent (a resource, a budget axis, a later expiry, an earlier not-before, a dropped caveat) is refused with TOKEN_WIDENED naming the axis.';
  static override examples = [
    '<%= config.bin %> token attenuate tk_0123456789abcdef0123456789abcdef --to summariser --resource \'fs.read:/srv/project/docs/**\' --expires 30m',
    '<%= config.bin %> token attenuate tk_0123456789abcdef0123456789abcdef --to helper --caveat single-use --json',
  ];
  static override args = {id: Args.string({description: 'parent token id (tk_...)', required: true})};
  static override flags = {to: Flags.string({description: 'principal the child is for', required: true}), ...tokenFlags};

  async run(): Promise<TokenView> {
    const {args, flags} = await this.parse(TokenAttenuate);
    const t = await tokenAttenuate(this.home(flags.home), {
      parent: args.id,
      to: flags.to,
      ...(flags.resource === undefined ? {} : {resources: flags.resource}),
      ...tokenOptions(flags),
    });
    this.log(t.id);
    return t;
  }
}
