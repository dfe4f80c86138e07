// What kind of address an IP is, for the network guard: only "public" addresses are
// ever connected to (and "loopback" when local hosts are explicitly allowed).
//
// IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible
// ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they
// carry, so ::ffff:127.0.0.1 is loopback and ::ffff:169.254.169.254 is link-local.
import { isIP } from 'node:net';

export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'invalid';

type V4Range = [base: number, bits: number, kind: AddressKind];

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

const V4_RANGES: V4Range[] = [
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(100, 64, 0, 0), 10, 'private'], // carrier-grade NAT (also some cloud metadata)
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'], // includes the 169.254.169.254 metadata service
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 0, 0, 0), 24, 'reserved'], // IETF protocol assignments (some metadata services)
  [v4(192, 0, 2, 0), 24, 'reserved'], // documentation
  [v4(192, 88, 99, 0), 24, 'reserved'], // 6to4 relay anycast
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(198, 18, 0, 0), 15, 'reserved'], // benchmarking
  [v4(198, 51, 100, 0), 24, 'reserved'],
  [v4(203, 0, 113, 0), 24, 'reserved'],
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'], // includes 255.255.255.255
];

function parseV4(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

function kindOfV4(n: number): AddressKind {
  for (const [base, bits, kind] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === base) return kind;
  }
  return 'public';
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part allowed), or null. */
function parseV6(ip: string): number[] | null {
  let s = ip.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const n = parseV4(s.slice(lastColon + 1));
    if (n === null) return null;
    tail = [n >>> 16, n & 0xffff];
    s = `${s.slice(0, lastColon + 1)}${tail.length ? '0:0' : ''}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const group = (x: string) => (x === '' ? [] : x.split(':'));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 1) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const groups: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    groups.push(parseInt(g, 16));
  }
  if (tail.length) {
    groups[6] = tail[0]!;
    groups[7] = tail[1]!;
  }
  return groups.length === 8 ? groups : null;
}

function kindOfV6(g: number[]): AddressKind {
  const v4of = (hi: number, lo: number) => kindOfV4(((hi << 16) >>> 0) + lo);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  if (zeros(0, 5) && g[5] === 0xffff) return v4of(g[6]!, g[7]!); // IPv4-mapped
  if (zeros(0, 6)) return v4of(g[6]!, g[7]!) === 'public' ? 'reserved' : v4of(g[6]!, g[7]!); // IPv4-compatible (deprecated)
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4of(g[6]!, g[7]!); // NAT64
  if (g[0] === 0x2002) return v4of(g[1]!, g[2]!); // 6to4 carries the IPv4 address next
  if ((g[0]! & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((g[0]! & 0xffc0) === 0xfec0) return 'private'; // fec0::/10 site-local (deprecated)
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'reserved'; // documentation
  if (g[0] === 0x2001 && g[1] === 0) return 'reserved'; // Teredo tunnels
  if (g[0] === 0x0100 && zeros(1, 4)) return 'reserved'; // discard prefix
  if ((g[0]! & 0xe000) !== 0x2000) return 'reserved'; // outside global unicast 2000::/3
  return 'public';
}

/** Classifies an IP address literal (IPv4 or IPv6, brackets allowed). */
export function addressKind(address: string): AddressKind {
  const ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(ip.split('%')[0]!);
  if (family === 4) {
    const n = parseV4(ip);
    return n === null ? 'invalid' : kindOfV4(n);
  }
  if (family === 6) {
    const g = parseV6(ip);
    return g === null ? 'invalid' : kindOfV6(g);
  }
  return 'invalid';
}

/** True for an IPv4 or IPv6 literal (brackets allowed). */
export function isIpLiteral(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(h.split('%')[0]!) !== 0;
}
