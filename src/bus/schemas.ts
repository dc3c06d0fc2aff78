/**
 * The typed topic map: a TypeBox schema for every kernel topic. A message on a kernel
 * topic is checked against its schema before routing (compiled once); a message on a
 * capsule's own topic (tool.fs.read, notes.add, ...) is any msgpack value within the
 * size bound. Kernel topics are the closed list below; adding one is a deliberate act.
 */
import {Type, type Static, type TSchema} from '@sinclair/typebox';
import {TypeCompiler, type TypeCheck} from '@sinclair/typebox/compiler';
import {matches, parsePattern, type Topic, type TopicPattern} from '../topics/index.js';

/** Under the bus's message limit (which leaves room for the ledger entry's envelope). */
export const MAX_FS_WRITE_BYTES = 1024 * 1024 - 64 * 1024;

const strict = {additionalProperties: false} as const;

export const FsWriteRequest = Type.Object({path: Type.String({minLength: 1, maxLength: 4096}), data: Type.Uint8Array({maxByteLength: MAX_FS_WRITE_BYTES})}, strict);
export const FsWriteResult = Type.Object(
  {ok: Type.Boolean(), path: Type.String({maxLength: 4096}), bytes: Type.Optional(Type.Integer({minimum: 0})), code: Type.Optional(Type.String({maxLength: 64}))},
  strict,
);
/** Request bodies fit in one capsule message (64 KiB, ABI v1) with room for the rest of the request. */
export const MAX_HTTP_REQUEST_BODY = 48 * 1024;
/** Response bodies fit in one message delivered to a capsule (64 KiB, ABI v1) with room for the headers. */
export const MAX_HTTP_RESPONSE_BODY = 48 * 1024;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const HeaderMap = Type.Record(Type.String({minLength: 1, maxLength: 256}), Type.String({maxLength: 8192}), {maxProperties: 64});
export const HttpRequest = Type.Object(
  {
    method: Type.Union(HTTP_METHODS.map((m) => Type.Literal(m))),
    url: Type.String({minLength: 1, maxLength: 2048}),
    headers: Type.Optional(HeaderMap),
    body: Type.Optional(Type.Uint8Array({maxByteLength: MAX_HTTP_REQUEST_BODY})),
    /** Header name -> secret name: the kernel puts the secret's value in that header at the boundary. */
    secrets: Type.Optional(Type.Record(Type.String({minLength: 1, maxLength: 256}), Type.String({pattern: '^[A-Z][A-Z0-9_]{0,63}$'}), {maxProperties: 8})),
  },
  strict,
);
export const HttpResponse = Type.Object(
  {
    ok: Type.Boolean(),
    status: Type.Optional(Type.Integer({minimum: 100, maximum: 999})),
    headers: Type.Optional(HeaderMap),
    body: Type.Optional(Type.Uint8Array({maxByteLength: MAX_HTTP_RESPONSE_BODY})),
    /** The URL the response came from (after redirects). */
    url: Type.Optional(Type.String({maxLength: 2048})),
    code: Type.Optional(Type.String({maxLength: 64})),
  },
  strict,
);
export const ApprovalRequest = Type.Object({resource: Type.String({minLength: 1, maxLength: 4200}), reason: Type.String({maxLength: 1024})}, strict);
export const SessionEvent = Type.Object({session: Type.String({minLength: 1, maxLength: 128}), status: Type.String({maxLength: 64})}, strict);

const BudgetAxis = Type.Optional(Type.Integer({minimum: 1, maximum: 1e15}));
/** Start a child capsule under a token attenuated from the caller's (at most the caller's resources and budget). */
export const SpawnRequest = Type.Object(
  {
    capsule: Type.String({minLength: 1, maxLength: 64}),
    topic: Type.String({minLength: 1, maxLength: 256}),
    input: Type.Optional(Type.Unknown()),
    resources: Type.Array(Type.String({minLength: 1, maxLength: 4200}), {maxItems: 32}),
    budget: Type.Optional(Type.Object({fuel: BudgetAxis, wall_ms: BudgetAxis, messages: BudgetAxis, egress_bytes: BudgetAxis}, strict)),
  },
  strict,
);
export const SpawnResult = Type.Object(
  {
    ok: Type.Boolean(),
    capsule: Type.String({maxLength: 64}),
    session: Type.Optional(Type.String({maxLength: 128})),
    token: Type.Optional(Type.String({maxLength: 64})),
    status: Type.Optional(Type.String({maxLength: 16})),
    code: Type.Optional(Type.String({maxLength: 64})),
    sends: Type.Optional(Type.Array(Type.Object({topic: Type.String({maxLength: 256}), payload: Type.Unknown()}, strict), {maxItems: 16})),
  },
  strict,
);
export const ApprovalRequestResult = Type.Object({ok: Type.Boolean(), id: Type.Optional(Type.String({maxLength: 64})), code: Type.Optional(Type.String({maxLength: 64}))}, strict);

export type FsWriteRequest = Static<typeof FsWriteRequest>;
export type SpawnRequest = Static<typeof SpawnRequest>;
export type SpawnResult = Static<typeof SpawnResult>;
export type FsWriteResult = Static<typeof FsWriteResult>;
export type HttpRequest = Static<typeof HttpRequest>;
export type HttpResponse = Static<typeof HttpResponse>;

/** Kernel topic patterns and their payload schemas (most specific first). */
export const KERNEL_TOPICS: ReadonlyArray<readonly [string, TSchema]> = [
  ['svc.fs.write.result', FsWriteResult],
  ['svc.fs.write', FsWriteRequest],
  ['svc.http.response', HttpResponse],
  ['svc.http.request', HttpRequest],
  ['svc.approval.request.result', ApprovalRequestResult],
  ['svc.approval.request', ApprovalRequest],
  ['svc.spawn.result', SpawnResult],
  ['svc.spawn', SpawnRequest],
  ['kernel.session.*', SessionEvent],
];

/** Prefixes reserved for the kernel: a topic under them without a schema is refused. */
export const KERNEL_PREFIXES: readonly string[] = ['svc.>', 'kernel.>', 'approval.>'];

const compiled: ReadonlyArray<readonly [TopicPattern, TypeCheck<TSchema>]> = KERNEL_TOPICS.map(([p, s]) => [parsePattern(p), TypeCompiler.Compile(s)] as const);
const reserved: readonly TopicPattern[] = KERNEL_PREFIXES.map((p) => parsePattern(p));

export type SchemaVerdict = {readonly ok: true; readonly kernel: boolean} | {readonly ok: false; readonly reason: string};

/** Which schema a topic has: a compiled check, 'reserved' (kernel prefix, no schema), or none. Cached per topic. */
const byTopic = new Map<string, TypeCheck<TSchema> | 'reserved' | null>();
function schemaOf(topic: Topic): TypeCheck<TSchema> | 'reserved' | null {
  let s = byTopic.get(topic);
  if (s === undefined) {
    s = compiled.find(([p]) => matches(p, topic))?.[1] ?? (reserved.some((p) => matches(p, topic)) ? 'reserved' : null);
    if (byTopic.size >= 65_536) byTopic.clear();
    byTopic.set(topic, s);
  }
  return s;
}

/** Check a payload against its topic's schema (kernel topics) or accept it (capsule topics). */
export function checkPayload(topic: Topic, payload: unknown): SchemaVerdict {
  const c = schemaOf(topic);
  if (c === null) return {ok: true, kernel: false};
  if (c === 'reserved') return {ok: false, reason: `${topic} is under a kernel prefix but is not a kernel topic`};
  if (c.Check(payload)) return {ok: true, kernel: true};
  const e = c.Errors(payload).First();
  return {ok: false, reason: `payload for ${topic} does not match its schema${e ? `: ${e.path || '/'} ${e.message}` : ''}`};
}
