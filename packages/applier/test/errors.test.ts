import { findCulprit, parseRestoreFailure, payloadExcerpt, tablesCommittedBefore } from '../src/index.js';

const payload = ['*filter', ':KUBE-A - [0:0]', '-A KUBE-A -j ACCEPT', 'COMMIT', '*nat', ':KUBE-B - [0:0]', '-A KUBE-B -j KUBE-GONE', '-A KUBE-B -j RETURN', 'COMMIT', ''].join('\n');

test('iptables-restore messages of both backends and older versions map to a line and a reason', () => {
  expect(parseRestoreFailure("iptables-restore v1.8.9 (nf_tables): Chain 'KUBE-GONE' does not exist\nError occurred at line: 9\nTry `iptables-restore -h' or 'iptables-restore --help' for more information.\n")).toEqual({
    line: 9,
    reason: "Chain 'KUBE-GONE' does not exist",
  });
  expect(parseRestoreFailure("iptables-restore v1.8.9 (legacy): Couldn't load target `KUBE-GONE':No such file or directory\n\nError occurred at line: 7\n")).toEqual({
    line: 7,
    reason: "Couldn't load target `KUBE-GONE':No such file or directory",
  });
  expect(parseRestoreFailure('iptables-restore: line 3 failed\n')).toEqual({ line: 3, reason: 'line 3 failed' });
  expect(parseRestoreFailure('iptables-restore: COMMIT expected at line 4\n')).toEqual({ line: 4, reason: 'COMMIT expected at line 4' });
  expect(parseRestoreFailure('Ignoring deprecated --wait-interval option.\nsomething odd\n')).toEqual({ line: undefined, reason: 'something odd' });
});

test('a missing-chain error reported at COMMIT points back at the first rule jumping there (nft and legacy wording)', () => {
  expect(findCulprit(payload, 9, "Chain 'KUBE-GONE' does not exist")).toBe(7);
  expect(findCulprit(payload, 9, "Couldn't load target `KUBE-GONE':No such file or directory")).toBe(7);
  expect(findCulprit(payload, 7, "Chain 'KUBE-GONE' does not exist")).toBeUndefined();
  expect(findCulprit(payload, 4, "Chain 'KUBE-GONE' does not exist")).toBeUndefined();
});

test('excerpt: 3 lines either side, numbered, the line marked; clipped at the ends', () => {
  expect(payloadExcerpt(payload, 7)).toBe(['  4 | COMMIT', '  5 | *nat', '  6 | :KUBE-B - [0:0]', '> 7 | -A KUBE-B -j KUBE-GONE', '  8 | -A KUBE-B -j RETURN', '  9 | COMMIT'].join('\n'));
  expect(payloadExcerpt(payload, 1).split('\n')).toEqual(['> 1 | *filter', '  2 | :KUBE-A - [0:0]', '  3 | -A KUBE-A -j ACCEPT', '  4 | COMMIT']);
});

test('tables committed before a line', () => {
  expect(tablesCommittedBefore(payload, 3)).toEqual([]);
  expect(tablesCommittedBefore(payload, 7)).toEqual(['filter']);
  expect(tablesCommittedBefore(payload, 10)).toEqual(['filter', 'nat']);
});
