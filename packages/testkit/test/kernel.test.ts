import { kernelDecision, kernelRequired, requiredMessage, skippedName } from '../src/index.js';

describe('kernel gate', () => {
  test('CI counts as set unless empty, "0" or "false"', () => {
    expect(kernelRequired({})).toBe(false);
    for (const v of ['', '0', 'false', 'FALSE', ' ']) expect(kernelRequired({ CI: v })).toBe(false);
    for (const v of ['true', '1', 'yes', 'TRUE']) expect(kernelRequired({ CI: v })).toBe(true);
  });

  test('tools present: run, CI or not', () => {
    expect(kernelDecision(undefined, {})).toBe('run');
    expect(kernelDecision(undefined, { CI: 'true' })).toBe('run');
  });

  test('a missing tool fails under CI and is a skip elsewhere', () => {
    expect(kernelDecision('missing commands: nfacct', { CI: 'true' })).toBe('fail');
    expect(kernelDecision('missing commands: nfacct', {})).toBe('skip');
    expect(kernelDecision('not running as root', { CI: 'false' })).toBe('skip');
  });

  test('a skip carries its reason in the name; the CI failure says what is missing', () => {
    expect(skippedName('Applier on the real kernel', 'missing commands: nfacct')).toBe('Applier on the real kernel [skipped: missing commands: nfacct]');
    expect(requiredMessage('missing commands: iptables-restore')).toMatch(/cannot run \(missing commands: iptables-restore\) and CI is set/);
  });
});
