import { canonicalIP, canonicalCIDR, parseIP, parseCIDR, cidrContains, isLoopback, joinHostPort, ipFamilyOf } from '../src/index.js';

describe('ParseIPSloppy + net.IP.String()', () => {
  test.each([
    ['172.30.0.041', '172.30.0.41'],
    ['10.180.00.001', '10.180.0.1'],
    ['192.168.099.022', '192.168.99.22'],
    ['1.2.3.004', '1.2.3.4'],
    ['1.2.3.0004', '1.2.3.4'],
    ['FD00:10:180:0:0:0:0:1', 'fd00:10:180::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0:1:0:0:0:0', '2001:db8:0:1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ])('%s -> %s', (input, out) => expect(canonicalIP(input)).toBe(out));

  test.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', 'fe80::1%eth0', '1::2::3', '1:2:3:4:5:6:7:8:9', 'abc', '1.2.3.4 ', '0x1.2.3.4', '1.2.3.256'])(
    'rejects %j',
    (input) => expect(parseIP(input)).toBeNull(),
  );

  test('IPv4-mapped IPv6 counts as IPv4', () => expect(ipFamilyOf('::ffff:10.0.0.1')).toBe('IPv4'));
});

describe('ParseCIDRSloppy + IPNet.String()', () => {
  test.each([
    ['203.0.113.000/025', '203.0.113.0/25'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['fd00:10::1/64', 'fd00:10::/64'],
    ['0.0.0.0/0', '0.0.0.0/0'],
  ])('%s -> %s', (input, out) => expect(canonicalCIDR(input)).toBe(out));
  test.each(['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/8/8'])('rejects %j', (input) =>
    expect(parseCIDR(input)).toBeNull(),
  );
  test('containment', () => {
    expect(cidrContains(parseCIDR('192.168.0.0/24')!, parseIP('192.168.0.2')!)).toBe(true);
    expect(cidrContains(parseCIDR('192.168.0.0/24')!, parseIP('192.168.1.2')!)).toBe(false);
    expect(cidrContains(parseCIDR('::/0')!, parseIP('10.0.0.1')!)).toBe(false);
  });
  test('loopback and host:port', () => {
    expect(isLoopback(parseIP('127.0.0.53')!)).toBe(true);
    expect(isLoopback(parseIP('::1')!)).toBe(true);
    expect(isLoopback(parseIP('::2')!)).toBe(false);
    expect(joinHostPort('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(joinHostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
});
