import {Args, Flags} from '@oclif/core';
import {AstridCommand, readSecretValue, secretSet, type SecretView} from '../../src/cli/index.js';

export default class SecretSet extends AstridCommand {
  static override summary = 'Store a secret (read from stdin or a file, never from the command line) for the http service to put in request headers.';
  static override description =
    'The value goes to $ASTRID_HOME/secrets/<NAME> (0600, directory 0700). A capsule names the secret in an http request ' +
    '({secrets: {"Authorization": "NAME"}}) and the kernel puts the value in that header, only for a request to one of the --host names; ' +
    'the capsule never sees it, and the ledger records only secret.set with the name and hosts. One trailing line break is dropped.';
  static override examples = [
    'printf %s "Bearer $API_TOKEN" | <%= config.bin %> secret set API_TOKEN --host api.example.com',
    '<%= config.bin %> secret set API_TOKEN --host api.example.com --from-file ./token.txt --json',
  ];
  static override args = {name: Args.string({description: 'secret name: A-Z, 0-9 and _, starting with a letter', required: true})};
  static override flags = {
    host: Flags.string({description: 'a host the secret may be sent to (exact name; repeatable)', required: true, multiple: true}),
    'from-file': Flags.string({description: 'read the value from this file instead of stdin', helpValue: '<path>'}),
  };

  async run(): Promise<SecretView & {seq: number}> {
    const {args, flags} = await this.parse(SecretSet);
    const value = await readSecretValue(flags['from-file']);
    const r = await secretSet(this.home(flags.home), args.name, value, flags.host);
    this.log(`secret ${r.name} stored for ${r.hosts.join(', ')} (secret.set at seq ${r.seq})`);
    return r;
  }
}
