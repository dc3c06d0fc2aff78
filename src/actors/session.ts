/**
 * The session and principal lifecycles as XState machines, and the registry the kernel
 * keeps its live actors in (what `astrid inspect actor` shows).
 *
 * Session: started -RUN-> running -END-> ended; running -INTERRUPT-> interrupted -END-> ended.
 *   `interrupted` is a session the ledger says is running but no kernel runs (a crash or
 *   restart happened mid-session); it ends only when someone ends it.
 * Principal: active, with the sessions it is running now.
 */
import {assign, createActor, setup, type AnyActorRef} from 'xstate';

export type SessionEvent = {type: 'RUN'} | {type: 'ACTIVATED'; outcome: string; fuel: number} | {type: 'END'; status: 'ok' | 'error'; code: string} | {type: 'INTERRUPT'};

export interface SessionActorContext {
  readonly id: string;
  readonly principal: string;
  readonly capsule: string;
  readonly activations: number;
  readonly fuelUsed: number;
  readonly status: string;
  readonly code: string;
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionActorContext,
    events: {} as SessionEvent,
    input: {} as {id: string; principal: string; capsule: string; activations?: number; fuelUsed?: number; interrupted?: boolean},
  },
  guards: {interrupted: ({context}) => context.status === 'interrupted'},
}).createMachine({
  id: 'session',
  initial: 'started',
  context: ({input}) => ({
    id: input.id,
    principal: input.principal,
    capsule: input.capsule,
    activations: input.activations ?? 0,
    fuelUsed: input.fuelUsed ?? 0,
    status: input.interrupted === true ? 'interrupted' : 'started',
    code: '',
  }),
  states: {
    started: {
      always: {guard: 'interrupted', target: 'interrupted'},
      on: {RUN: {target: 'running', actions: assign({status: 'running'})}, END: {target: 'ended', actions: assign({status: ({event}) => event.status, code: ({event}) => event.code})}},
    },
    running: {
      on: {
        ACTIVATED: {actions: assign({activations: ({context}) => context.activations + 1, fuelUsed: ({context, event}) => context.fuelUsed + event.fuel})},
        END: {target: 'ended', actions: assign({status: ({event}) => event.status, code: ({event}) => event.code})},
        INTERRUPT: {target: 'interrupted', actions: assign({status: 'interrupted'})},
      },
    },
    interrupted: {on: {END: {target: 'ended', actions: assign({status: ({event}) => event.status, code: ({event}) => event.code})}}},
    ended: {type: 'final'},
  },
});

export type PrincipalEvent = {type: 'SESSION_STARTED'; session: string} | {type: 'SESSION_ENDED'; session: string};

export interface PrincipalActorContext {
  readonly name: string;
  readonly role: string;
  readonly sessions: readonly string[];
}

export const principalMachine = setup({
  types: {context: {} as PrincipalActorContext, events: {} as PrincipalEvent, input: {} as {name: string; role: string; sessions?: readonly string[]}},
}).createMachine({
  id: 'principal',
  initial: 'active',
  context: ({input}) => ({name: input.name, role: input.role, sessions: [...(input.sessions ?? [])]}),
  states: {
    active: {
      on: {
        SESSION_STARTED: {actions: assign({sessions: ({context, event}) => (context.sessions.includes(event.session) ? context.sessions : [...context.sessions, event.session])})},
        SESSION_ENDED: {actions: assign({sessions: ({context, event}) => context.sessions.filter((s) => s !== event.session)})},
      },
    },
  },
});

export interface ActorView {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly context: Readonly<Record<string, unknown>>;
}

/** The kernel's live actors by id (`session:<id>`, `principal:<name>`, `capsule:<session>/<name>`, `approval:<id>`). */
export class ActorRegistry {
  readonly #actors = new Map<string, {kind: string; ref: AnyActorRef}>();

  add(id: string, kind: string, ref: AnyActorRef): () => void {
    this.#actors.get(id)?.ref.stop();
    this.#actors.set(id, {kind, ref});
    return () => {
      if (this.#actors.get(id)?.ref === ref) this.#actors.delete(id);
    };
  }

  get(id: string): AnyActorRef | undefined {
    return this.#actors.get(id)?.ref;
  }

  /** A JSON-ready view of one actor's state and context. */
  view(id: string): ActorView | undefined {
    const a = this.#actors.get(id);
    if (a === undefined) return undefined;
    const snap = a.ref.getSnapshot() as {value: unknown; context: unknown};
    const value = typeof snap.value === 'string' ? snap.value : JSON.stringify(snap.value);
    const context = typeof snap.context === 'object' && snap.context !== null ? (snap.context as Record<string, unknown>) : {};
    return {id, kind: a.kind, state: value, context};
  }

  ids(): string[] {
    return [...this.#actors.keys()].sort();
  }

  stopAll(): void {
    for (const a of this.#actors.values()) a.ref.stop();
    this.#actors.clear();
  }
}

/** Start a session actor. */
export function startSessionActor(input: {id: string; principal: string; capsule: string; activations?: number; fuelUsed?: number; interrupted?: boolean}) {
  const a = createActor(sessionMachine, {input});
  a.start();
  return a;
}

/** Start a principal actor. */
export function startPrincipalActor(input: {name: string; role: string; sessions?: readonly string[]}) {
  const a = createActor(principalMachine, {input});
  a.start();
  return a;
}
