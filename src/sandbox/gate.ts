/**
 * The gate interface the sandbox calls before any host effect, and a simple grant gate:
 * classification (normalised input), policy hard-denies (the Astrid home, configurable
 * roots), the manifest's upper bound, then the session's grants. The full gate (signed
 * tokens, budgets, approvals) replaces GrantGate with the authority issue; the interface
 * stays.
 */
import {pathMatches, pathSegments, resourceAllows, type Resource, type ResourceType} from '../capabilities/index.js';
import {covers, isTopic, parsePattern, type TopicPattern} from '../topics/index.js';
import type {ResourceBounds} from './manifest.js';

export interface GateRequest {
  readonly capsule: string;
  readonly principal: string;
  readonly session: string;
  readonly type: ResourceType;
  /** The path, namespace, topic, URL or capsule name asked for. */
  readonly value: string;
}

export type GateLayer = 'classify' | 'policy' | 'manifest' | 'grant';

export type GateDecision =
  | {readonly allow: true; readonly rule: string}
  | {readonly allow: false; readonly layer: GateLayer; readonly rule: string; readonly reason: string};

export interface Gate {
  check(req: GateRequest): GateDecision;
}

export interface GrantGateOptions {
  readonly grants: readonly Resource[];
  readonly manifest: {readonly resources: ResourceBounds; readonly sends: readonly TopicPattern[]};
  /** Absolute roots nothing may touch (the Astrid home, at least). */
  readonly denyRoots: readonly string[];
}

function manifestAllows(m: GrantGateOptions['manifest'], type: ResourceType, value: string): boolean {
  switch (type) {
    case 'fs.read':
      return m.resources.fs_read.some((g) => pathMatches(g, value));
    case 'fs.write':
      return m.resources.fs_write.some((g) => pathMatches(g, value));
    case 'kv':
      return m.resources.kv.some((p) => resourceAllows({type: 'kv', pattern: p, text: `kv:${p}`}, 'kv', value));
    case 'bus.send':
      return isTopic(value) && m.sends.some((p) => covers(p, parsePattern(value)));
    case 'bus.recv':
      return true;
    case 'net.http':
      return m.resources.net_http.some((p) => value.startsWith(p));
    case 'spawn':
      return m.resources.spawn.includes(value);
  }
}

/** A gate over a fixed list of grants (the `--grant` flags of `astrid run`). */
export class GrantGate implements Gate {
  readonly #o: GrantGateOptions;
  constructor(o: GrantGateOptions) {
    this.#o = o;
  }

  /** Decisions by (type, value): grants are fixed for the gate's life, so a decision is too. */
  readonly #cache = new Map<string, GateDecision>();

  check(req: GateRequest): GateDecision {
    const key = req.type + '\u0000' + req.value;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const d = this.#decide(req);
    if (this.#cache.size >= 4096) this.#cache.clear();
    this.#cache.set(key, d);
    return d;
  }

  #decide(req: GateRequest): GateDecision {
    const isPath = req.type === 'fs.read' || req.type === 'fs.write';
    if (isPath) {
      const segs = pathSegments(req.value);
      if (typeof segs === 'string') return {allow: false, layer: 'classify', rule: 'path-normalised', reason: `path ${segs}`};
      for (const root of this.#o.denyRoots) {
        if (req.value === root || req.value.startsWith(root.endsWith('/') ? root : root + '/')) {
          return {allow: false, layer: 'policy', rule: 'deny-root', reason: `${req.value} is inside a protected root`};
        }
      }
    }
    if (req.type === 'bus.send' && !isTopic(req.value)) {
      return {allow: false, layer: 'classify', rule: 'topic-grammar', reason: 'not a valid concrete topic'};
    }
    if (!manifestAllows(this.#o.manifest, req.type, req.value)) {
      return {allow: false, layer: 'manifest', rule: `manifest.${req.type}`, reason: `${req.type} ${req.value} is outside what the capsule's manifest declares`};
    }
    const g = this.#o.grants.find((r) => resourceAllows(r, req.type, req.value));
    if (g === undefined) return {allow: false, layer: 'grant', rule: 'no-grant', reason: `no grant covers ${req.type}:${req.value}`};
    return {allow: true, rule: g.text};
  }
}
