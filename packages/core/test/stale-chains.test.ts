import { StaleChainTracker } from '../src/incremental/stale-chains.js';

const SVC_A = 'KUBE-SVC-AAAAAAAAAAAAAAAA';
const SVC_B = 'KUBE-SVC-BBBBBBBBBBBBBBBB';
const SEP_A = 'KUBE-SEP-AAAAAAAAAAAAAAAA';
const SEP_B = 'KUBE-SEP-BBBBBBBBBBBBBBBB';

describe('StaleChainTracker', () => {
  test('a full sync deletes every service chain believed on the host that it does not write, sorted; fixed chains are never its business', () => {
    const t = new StaleChainTracker([SVC_B, 'KUBE-MARK-MASQ', SEP_B, SVC_A]);
    expect(t.fullSync(new Set([SVC_A]))).toEqual([SEP_B, SVC_B]);
    expect(t.fullSync(new Set([SVC_A]))).toEqual([]);
  });

  test('a partial sync deletes what the changed Services dropped, unless it is written again or was never written', () => {
    const t = new StaleChainTracker();
    t.fullSync(new Set([SVC_A, SEP_A]));
    expect(t.partialSync(new Set([SEP_B]), [SEP_A, SEP_A, SEP_B, 'KUBE-SEP-CCCCCCCCCCCCCCCC'])).toEqual([SEP_A]);
    // SEP_A is gone from the host now: dropping it again deletes nothing.
    expect(t.partialSync(new Set(), [SEP_A])).toEqual([]);
    expect(t.fullSync(new Set([SVC_A]))).toEqual([SEP_B]);
  });

  test('reset: the last deletions may have failed, unless the host chains are known', () => {
    const t = new StaleChainTracker([SEP_A]);
    expect(t.fullSync(new Set())).toEqual([SEP_A]);
    t.reset();
    expect(t.fullSync(new Set())).toEqual([SEP_A]);
    t.reset([SEP_B, 'KUBE-SERVICES']);
    expect(t.fullSync(new Set([SVC_A]))).toEqual([SEP_B]);
  });
});
