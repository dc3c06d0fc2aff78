/**
 * The inline approval prompt of `astrid run --ask` on a terminal: each approval request the
 * session opens is put to the person at the terminal (one at a time); their answer goes back
 * on the same channel as an `astrid approve` from another terminal would, and the session, which waits for it,
 * delivers the message again when it is yes. Leaving a prompt empty leaves the request open
 * for another terminal (astrid approvals / approve).
 */
import {createInterface} from 'node:readline/promises';
import type {ChannelCall} from '../kernel/index.js';

const ANSWERS: Record<string, {answer: 'approved' | 'denied'; scope?: 'once' | 'session' | 'always'}> = {
  o: {answer: 'approved', scope: 'once'},
  s: {answer: 'approved', scope: 'session'},
  a: {answer: 'approved', scope: 'always'},
  d: {answer: 'denied'},
};

export class ApprovalPrompter {
  #chain: Promise<void> = Promise.resolve();
  readonly #input: NodeJS.ReadableStream;
  readonly #output: NodeJS.WritableStream;

  constructor(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr) {
    this.#input = input;
    this.#output = output;
  }

  /** Ask about one approval event (queued behind any prompt already open). */
  ask(e: Record<string, unknown>, call: ChannelCall): void {
    this.#chain = this.#chain.then(() => this.#one(e, call)).catch((err: unknown) => {
      this.#output.write(`  could not answer: ${(err as Error).message}\n`);
    });
  }

  async #one(e: Record<string, unknown>, call: ChannelCall): Promise<void> {
    const id = String(e.id);
    const rl = createInterface({input: this.#input, output: this.#output, terminal: true});
    try {
      const until = typeof e.expires === 'number' ? new Date(e.expires).toISOString() : '?';
      this.#output.write(`\n  approval ${id}: ${String(e.capsule)} asks for ${String(e.resource)}\n  (${String(e.reason)}; unanswered by ${until} means no)\n`);
      for (;;) {
        const a = (await rl.question('  [o]nce, [s]ession, [a]lways, [d]eny, or Enter to leave it to another terminal: ')).trim().toLowerCase();
        if (a === '') return;
        const ans = ANSWERS[a[0] as string];
        if (ans === undefined) continue;
        await call('approval.answer', {id, ...ans});
        this.#output.write(`  ${ans.answer === 'approved' ? `approved (${ans.scope})` : 'denied'}\n`);
        return;
      }
    } finally {
      rl.close();
    }
  }
}
