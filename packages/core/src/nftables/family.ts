import type { Family } from '@svcrules/nftables';
import type { IPFamily } from '../model.js';

/** The words that differ between the `ip` and `ip6` tables. */
export interface FamilyWords {
  readonly family: Family;
  /** The match prefix: `ip saddr`, `ip6 daddr`. */
  readonly ip: 'ip' | 'ip6';
  readonly addrType: 'ipv4_addr' | 'ipv6_addr';
  /** Node ports are never served on loopback (`ip daddr != 127.0.0.0/8`). */
  readonly loopback: string;
}

export function familyWords(family: IPFamily): FamilyWords {
  return family === 'IPv4'
    ? { family: 'ip', ip: 'ip', addrType: 'ipv4_addr', loopback: '127.0.0.0/8' }
    : { family: 'ip6', ip: 'ip6', addrType: 'ipv6_addr', loopback: '::1' };
}
