// The sandboxes' route table: a declarative list of `{ method, pattern, handler }`, one
// matcher, and one answer for a miss: `not_found` (no route has this path) or
// `method_not_allowed` (a route has the path, none the method; `allowed` lists the methods
// that have it). Each sandbox renders a miss in its CRM's own wire format.
//
// Patterns are paths whose segments are literals, `:name` (one segment, URL-decoded,
// handed to the handler as `params.name`) or `:name(regex)` (a segment the regex must
// match whole). Routes are tried in order: the first whose pattern and method match wins,
// so a literal route listed before a parameter route takes precedence on its path.

export type Params = Record<string, string>;

export interface Route<H> {
  /** An HTTP method (upper case), a list of them, or '*' for every method. */
  method: string | readonly string[];
  pattern: string;
  handler: H;
}

export type RouteMatch<H> =
  | { kind: 'found'; handler: H; params: Params }
  | { kind: 'method_not_allowed'; allowed: string[] }
  | { kind: 'not_found' };

type Segment = { literal: string } | { param: string; test?: RegExp };

interface Compiled<H> {
  methods: readonly string[] | '*';
  segments: Segment[];
  handler: H;
}

function compile(pattern: string): Segment[] {
  return pattern
    .split('/')
    .filter(Boolean)
    .map((s): Segment => {
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)(?:\((.+)\))?$/.exec(s);
      if (!m) return { literal: s };
      return m[2] ? { param: m[1]!, test: new RegExp(`^(?:${m[2]})$`) } : { param: m[1]! };
    });
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export class RouteTable<H> {
  private readonly routes: Compiled<H>[];

  constructor(routes: readonly Route<H>[]) {
    this.routes = routes.map((r) => ({
      methods: r.method === '*' ? '*' : (typeof r.method === 'string' ? [r.method] : r.method).map((m) => m.toUpperCase()),
      segments: compile(r.pattern),
      handler: r.handler,
    }));
  }

  /** The route for `method path` (the path without its query string), or why there is none. */
  match(method: string, path: string): RouteMatch<H> {
    const parts = path.split('/').filter(Boolean);
    const m = method.toUpperCase();
    const allowed = new Set<string>();
    let pathKnown = false;
    for (const r of this.routes) {
      const params = this.params(r.segments, parts);
      if (!params) continue;
      pathKnown = true;
      if (r.methods === '*' || r.methods.includes(m)) return { kind: 'found', handler: r.handler, params };
      for (const x of r.methods) allowed.add(x);
    }
    return pathKnown ? { kind: 'method_not_allowed', allowed: [...allowed] } : { kind: 'not_found' };
  }

  private params(segments: Segment[], parts: string[]): Params | null {
    if (segments.length !== parts.length) return null;
    const out: Params = {};
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      if ('literal' in s) {
        if (s.literal !== parts[i]) return null;
        continue;
      }
      const v = decode(parts[i]!);
      if (v === null || (s.test && !s.test.test(v))) return null;
      out[s.param] = v;
    }
    return out;
  }
}
