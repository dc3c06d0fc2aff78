/**
 * A kernel service (fs.write, http, approval, spawn) as an XState machine:
 *   idle -REQUEST-> serving -DONE (the last one in flight)-> idle;  * -STOP-> stopped
 * It counts the requests in flight, served and failed, and keeps the last failure's code.
 * The kernel performs each request (after the send that asked for it is durable) and
 * reports to the actor; `astrid inspect actor service:<name>` shows it.
 */
import {assign, createActor, setup, type ActorRefFrom} from 'xstate';

/** The services the kernel performs, by the name their actor is registered under (`service:<name>`). */
export const SERVICE_NAMES = ['fs.write', 'http', 'approval', 'spawn'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export type ServiceEvent = {type: 'REQUEST'} | {type: 'DONE'; ok: boolean; code: string} | {type: 'STOP'};

export interface ServiceContext {
  readonly name: string;
  readonly inFlight: number;
  readonly served: number;
  readonly failed: number;
  readonly lastFailure: string | undefined;
}

const finish = assign<ServiceContext, ServiceEvent, undefined, ServiceEvent, never>(({context, event}) => {
  if (event.type !== 'DONE') return {};
  return {
    inFlight: Math.max(0, context.inFlight - 1),
    served: context.served + (event.ok ? 1 : 0),
    failed: context.failed + (event.ok ? 0 : 1),
    lastFailure: event.ok ? context.lastFailure : event.code || 'failed',
  };
});

export const serviceMachine = setup({
  types: {
    context: {} as ServiceContext,
    events: {} as ServiceEvent,
    input: {} as {name: string},
  },
  guards: {
    last: ({context}) => context.inFlight <= 1,
  },
}).createMachine({
  id: 'service',
  initial: 'idle',
  context: ({input}) => ({name: input.name, inFlight: 0, served: 0, failed: 0, lastFailure: undefined}),
  states: {
    idle: {on: {REQUEST: {target: 'serving', actions: assign({inFlight: ({context}) => context.inFlight + 1})}, STOP: 'stopped'}},
    serving: {
      on: {
        REQUEST: {actions: assign({inFlight: ({context}) => context.inFlight + 1})},
        DONE: [{guard: 'last', target: 'idle', actions: finish}, {actions: finish}],
        STOP: 'stopped',
      },
    },
    stopped: {type: 'final'},
  },
});

export type ServiceActor = ActorRefFrom<typeof serviceMachine>;

/** Start a service actor. */
export function startServiceActor(name: string): ServiceActor {
  const a = createActor(serviceMachine, {input: {name}});
  a.start();
  return a;
}
