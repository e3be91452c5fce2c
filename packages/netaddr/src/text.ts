/**
 * IP text, both ways. Three readers of a dotted quad differ only in the digits they accept, and two
 * printers of IPv6 differ only in the IPv4 tail; each is a parameter here, not a copy.
 */
export type IPFamily = 'IPv4' | 'IPv6';

/**
 * Which dotted quads are read:
 * - `go-sloppy`: Go's pre-1.17 `net.ParseIP` (kube-proxy's `ParseIPSloppy`): any number of digits,
 *   so `172.30.0.041` is 172.30.0.41;
 * - `iptables`: one to three digits, leading zeros allowed (what the tracer reads in rule text);
 * - `inet_pton`: no leading zeros (glibc `inet_pton`, what iptables-save's parser takes).
 */
export type IPv4Syntax = 'go-sloppy' | 'iptables' | 'inet_pton';

const OCTET: Record<IPv4Syntax, RegExp> = {
  'go-sloppy': /^[0-9]+$/,
  iptables: /^[0-9]{1,3}$/,
  inet_pton: /^(0|[1-9][0-9]{0,2})$/,
};

/** The four octets of a dotted quad, or null when it is not one. */
export function parseIPv4Octets(text: string, syntax: IPv4Syntax): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const re = OCTET[syntax];
  const out: number[] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!re.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/**
 * The eight 16-bit groups of an IPv6 address in text form (`::` compression, an embedded IPv4 tail
 * read with `syntax`), or null when it is not one. Zones (`%eth0`) are not addresses.
 */
export function parseIPv6Groups(text: string, syntax: IPv4Syntax): number[] | null {
  let head = text;
  let tail: readonly number[] | null = null;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    tail = parseIPv4Octets(text.slice(lastColon + 1), syntax);
    if (tail === null) return null;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return null;
  const groups = (x: string): number[] | null => {
    if (x === '') return [];
    const out: number[] = [];
    for (const g of x.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let all: number[];
  if (dbl >= 0) {
    const left = groups(head.slice(0, dbl));
    const right = groups(head.slice(dbl + 2));
    if (!left || !right || left.length + right.length > 7) return null;
    all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    const g = groups(head);
    if (!g || g.length !== 8) return null;
    all = g;
  }
  if (tail) {
    all[6] = (tail[0]! << 8) | tail[1]!;
    all[7] = (tail[2]! << 8) | tail[3]!;
  }
  return all;
}

export function formatIPv4(octets: ArrayLike<number>): string {
  return `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3]}`;
}

/**
 * How IPv6 is printed: `go` is Go's `net.IP.String()` for a 16-byte address (RFC 5952: the longest
 * run of two or more zero groups, leftmost on a tie, as `::`, lower-case hex); `inet_ntop` is glibc's
 * (what iptables-save prints), the same but with an IPv4 tail for `::a.b.c.d` and `::ffff:a.b.c.d`.
 */
export type IPv6Style = 'go' | 'inet_ntop';

export function formatIPv6(groups: ArrayLike<number>, style: IPv6Style): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (style === 'inet_ntop' && bestStart === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff))) {
    const v4 = formatIPv4([groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff]);
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  const hex = (from: number, to: number): string => {
    let s = '';
    for (let i = from; i < to; i++) s += (i === from ? '' : ':') + groups[i]!.toString(16);
    return s;
  };
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
