// Which API calls a fault or a hook applies to: a method and a path, each optional.

export interface RequestMatch {
  /** The HTTP method (any case); absent: every method. */
  method?: string;
  /** A path prefix (string) or a pattern the path must match; absent: every path. */
  path?: string | RegExp;
}

export function matches(m: RequestMatch | undefined, method: string, path: string): boolean {
  if (m?.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m?.path) return typeof m.path === 'string' ? path.startsWith(m.path) : m.path.test(path);
  return true;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A match on paths that contain `part`. */
export const pathContaining = (part: string): RegExp => new RegExp(escape(part));

/** A match on exactly this path. */
export const exactPath = (path: string): RegExp => new RegExp(`^${escape(path)}$`);
