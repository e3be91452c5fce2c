/**
 * kube-proxy's nfacct counters (pkg/proxy/metrics: `ct_state_invalid_dropped_pkts` counts the
 * INVALID drops in KUBE-FORWARD, `localhost_nps_accepted_pkts` the localhost node-port accepts).
 */
export const CT_STATE_INVALID_DROPPED_PKTS = 'ct_state_invalid_dropped_pkts';
export const LOCALHOST_NPS_ACCEPTED_PKTS = 'localhost_nps_accepted_pkts';

export const NFACCT_COUNTERS = [CT_STATE_INVALID_DROPPED_PKTS, LOCALHOST_NPS_ACCEPTED_PKTS] as const;
export type NfacctCounter = (typeof NFACCT_COUNTERS)[number];

/** `-m nfacct --nfacct-name COUNTER`: the match words that count a rule's packets. */
export const nfacctMatch = (counter: NfacctCounter): string[] => ['-m', 'nfacct', '--nfacct-name', counter];
