// Salesforce-style ids: 3-char key prefix + 12 base62 chars (case-sensitive 15-char id)
// + a 3-char case-safe suffix computed the way Salesforce does.
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

export const KEY_PREFIX = {
  lead: '00Q',
  organization: '00D',
  user: '005',
  queryLocator: '01g',
  outboundAction: '04k',
  outboundNotification: '04l',
} as const;

/** The 3-char suffix that makes a 15-char id case-insensitively unique. */
export function caseSafeSuffix(id15: string): string {
  let out = '';
  for (let block = 0; block < 3; block++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15[block * 5 + i];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    out += SUFFIX[bits];
  }
  return out;
}

export function to18(id: string): string {
  return id.length === 18 ? id : id + caseSafeSuffix(id);
}

export function to15(id: string): string {
  return id.slice(0, 15);
}

export function isIdShaped(id: string): boolean {
  return /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(id);
}

function base62(n: number, width: number): string {
  let s = '';
  let v = n;
  while (v > 0) {
    s = BASE62[v % 62] + s;
    v = Math.floor(v / 62);
  }
  return s.padStart(width, '0');
}

/** Ids that sort (by their 15-char form) in creation order. */
export class IdFactory {
  private next: number;
  constructor(
    private readonly prefix: string,
    private readonly pod = '5g0',
    start = 1,
  ) {
    this.next = start;
  }
  make(): string {
    return to18(this.prefix + this.pod + base62(this.next++, 9));
  }
}
