/**
 * The base of every `astrid` command: the shared `--home` flag (also `$ASTRID_HOME`),
 * `--json` (oclif's), and one rendering of errors: `error CODE: message` for people,
 * `{"error": {code, message, details}}` on stdout with --json, exit status 1 for
 * AstridErrors (2 for usage errors, as oclif does).
 */
import {Command, Flags, Errors} from '@oclif/core';
import {AstridError} from '../errors/index.js';
import {resolveHome} from '../kernel/index.js';

export abstract class AstridCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    home: Flags.string({
      description: 'state directory (default: $ASTRID_HOME, else ~/.astrid)',
      helpGroup: 'GLOBAL',
      helpValue: '<dir>',
    }),
  };

  /** The resolved home for the parsed `--home` value. */
  protected home(flag: string | undefined): string {
    return resolveHome(flag);
  }

  /** True when output should be for people on a terminal (no --json, stderr is a TTY). */
  protected interactive(): boolean {
    return !this.jsonEnabled() && process.stderr.isTTY === true;
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (err instanceof AstridError) {
      if (this.jsonEnabled()) {
        this.logJson({error: err.toJSON()});
      } else {
        process.stderr.write(`error ${err.code}: ${err.message}\n`);
      }
      process.exitCode = 1;
      return;
    }
    if (err instanceof Errors.ExitError) throw err;
    const usage = err instanceof Errors.CLIError && (err.oclif?.exit ?? 1) === 2;
    if (usage) {
      // oclif's own --json rendering of a parse error dumps its whole context (config, argv)
      // and exits 1; the contract is one {"error"} object and exit 2. On a terminal, the same
      // stable code as every other error (oclif's message ends by pointing at --help).
      if (this.jsonEnabled()) this.logJson({error: {code: 'INPUT_INVALID', message: err.message, details: {usage: true}}});
      else process.stderr.write(`error INPUT_INVALID: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    if (this.jsonEnabled()) {
      this.logJson({error: {code: 'INTERNAL', message: err.message}});
      process.exitCode = 1;
      return;
    }
    return super.catch(err);
  }
}
