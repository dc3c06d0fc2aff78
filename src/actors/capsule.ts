/**
 * The capsule lifecycle as an XState machine:
 *   loading -> idle <-> handling -> idle | crashed | exhausted;  crashed|exhausted -RESTART-> loading;  * -STOP-> stopped
 * One message at a time (handling only from idle). Restarts are counted and bounded by
 * the owner of the actor (the session), with backoff handled there.
 */
import {assign, createActor, setup, type ActorRefFrom, type SnapshotFrom} from 'xstate';

export type CapsuleEvent =
  | {type: 'LOADED'}
  | {type: 'LOAD_FAILED'; code: string}
  | {type: 'DELIVER'; seq: number}
  | {type: 'DONE'; outcome: string}
  | {type: 'RESTART'}
  | {type: 'STOP'};

export interface CapsuleContext {
  readonly name: string;
  readonly restarts: number;
  readonly handled: number;
  readonly lastOutcome: string | undefined;
}

const EXHAUSTED = new Set(['SANDBOX_FUEL_EXHAUSTED', 'SANDBOX_MEMORY_LIMIT', 'SANDBOX_TIMEOUT']);
const CRASHED = new Set(['SANDBOX_TRAP', 'SANDBOX_INSTANCE_FAILED']);

export const capsuleMachine = setup({
  types: {
    context: {} as CapsuleContext,
    events: {} as CapsuleEvent,
    input: {} as {name: string},
  },
  guards: {
    exhausted: ({event}) => event.type === 'DONE' && EXHAUSTED.has(event.outcome),
    crashed: ({event}) => event.type === 'DONE' && CRASHED.has(event.outcome),
  },
}).createMachine({
  id: 'capsule',
  initial: 'loading',
  context: ({input}) => ({name: input.name, restarts: 0, handled: 0, lastOutcome: undefined}),
  states: {
    loading: {
      on: {
        LOADED: 'idle',
        LOAD_FAILED: {target: 'crashed', actions: assign({lastOutcome: ({event}) => event.code})},
        STOP: 'stopped',
      },
    },
    idle: {on: {DELIVER: 'handling', STOP: 'stopped'}},
    handling: {
      on: {
        DONE: [
          {guard: 'exhausted', target: 'exhausted', actions: assign({lastOutcome: ({event}) => event.outcome, handled: ({context}) => context.handled + 1})},
          {guard: 'crashed', target: 'crashed', actions: assign({lastOutcome: ({event}) => event.outcome, handled: ({context}) => context.handled + 1})},
          {target: 'idle', actions: assign({lastOutcome: ({event}) => event.outcome, handled: ({context}) => context.handled + 1})},
        ],
      },
    },
    crashed: {on: {RESTART: {target: 'loading', actions: assign({restarts: ({context}) => context.restarts + 1})}, STOP: 'stopped'}},
    exhausted: {on: {RESTART: {target: 'loading', actions: assign({restarts: ({context}) => context.restarts + 1})}, STOP: 'stopped'}},
    stopped: {type: 'final'},
  },
});

export type CapsuleActor = ActorRefFrom<typeof capsuleMachine>;
export type CapsuleSnapshot = SnapshotFrom<typeof capsuleMachine>;
export type CapsuleState = 'loading' | 'idle' | 'handling' | 'crashed' | 'exhausted' | 'stopped';

/** Start a capsule actor. */
export function startCapsuleActor(name: string): CapsuleActor {
  const a = createActor(capsuleMachine, {input: {name}});
  a.start();
  return a;
}

/** The current lifecycle state of a capsule actor. */
export function capsuleState(a: CapsuleActor): CapsuleState {
  return a.getSnapshot().value as CapsuleState;
}
