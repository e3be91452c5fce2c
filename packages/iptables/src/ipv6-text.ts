/**
 * The eight 16-bit groups of an IPv6 address in text form (`::` compression, an embedded IPv4 tail),
 * or null when it is not one. The tail's IPv4 syntax is the caller's: Go's sloppy parsing for
 * Kubernetes objects, strict dotted quads for iptables text.
 */
export function ipv6Groups(text: string, parseIPv4Tail: (tail: string) => readonly number[] | null): number[] | null {
  let head = text;
  let tail: readonly number[] | null = null;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    tail = parseIPv4Tail(text.slice(lastColon + 1));
    if (tail === null || tail.length !== 4) return null;
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
