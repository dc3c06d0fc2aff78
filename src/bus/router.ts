/**
 * The routing index: subscriptions stored in a trie keyed by pattern segments, so routing
 * a topic walks at most (segments x 2) nodes however many subscribers there are (a filter
 * per subscriber collapses at a thousand subscribers). A `*` child matches one segment; a
 * `>` entry at a node matches one or more remaining segments. Same semantics as
 * `matches` in src/topics (the table-driven test checks they agree).
 */
import {parsePattern, type Topic, type TopicPattern} from '../topics/index.js';

interface Node<T> {
  readonly children: Map<string, Node<T>>;
  /** Subscriptions whose pattern ends exactly here. */
  readonly here: Set<T>;
  /** Subscriptions whose pattern ends here with `>`. */
  readonly rest: Set<T>;
}

function node<T>(): Node<T> {
  return {children: new Map(), here: new Set(), rest: new Set()};
}

export class RoutingIndex<T> {
  readonly #root: Node<T> = node();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Add `value` under `pattern`. @throws TypeError when the pattern is invalid. */
  add(pattern: TopicPattern | string, value: T): void {
    const segs = parsePattern(pattern).split('.');
    let n = this.#root;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i] as string;
      if (s === '>') {
        if (!n.rest.has(value)) {
          n.rest.add(value);
          this.#size++;
        }
        return;
      }
      let c = n.children.get(s);
      if (c === undefined) {
        c = node();
        n.children.set(s, c);
      }
      n = c;
    }
    if (!n.here.has(value)) {
      n.here.add(value);
      this.#size++;
    }
  }

  /** Remove `value` from under `pattern` (no-op when absent). */
  remove(pattern: TopicPattern | string, value: T): void {
    const segs = parsePattern(pattern).split('.');
    const path: Array<[Node<T>, string]> = [];
    let n = this.#root;
    for (const s of segs) {
      if (s === '>') {
        if (n.rest.delete(value)) this.#size--;
        this.#prune(path, n);
        return;
      }
      const c = n.children.get(s);
      if (c === undefined) return;
      path.push([n, s]);
      n = c;
    }
    if (n.here.delete(value)) this.#size--;
    this.#prune(path, n);
  }

  #prune(path: Array<[Node<T>, string]>, leaf: Node<T>): void {
    let n = leaf;
    for (let i = path.length - 1; i >= 0; i--) {
      if (n.here.size > 0 || n.rest.size > 0 || n.children.size > 0) return;
      const [parent, seg] = path[i] as [Node<T>, string];
      parent.children.delete(seg);
      n = parent;
    }
  }

  /** Every value whose pattern matches the concrete `topic` (each once). */
  route(topic: Topic | string): Set<T> {
    const segs = topic.split('.');
    const out = new Set<T>();
    const walk = (n: Node<T>, i: number): void => {
      if (i === segs.length) {
        for (const v of n.here) out.add(v);
        return;
      }
      for (const v of n.rest) out.add(v); // `>`: one or more remaining segments
      const exact = n.children.get(segs[i] as string);
      if (exact !== undefined) walk(exact, i + 1);
      const star = n.children.get('*');
      if (star !== undefined) walk(star, i + 1);
    };
    walk(this.#root, 0);
    return out;
  }
}
