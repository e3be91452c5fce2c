import { hash16, serviceChainNames, endpointChainName, isServiceChain } from '../../src/kube-proxy/names.js';

// Chain-name hashes (docs/kube-proxy-rules.md 4), checked against kube-proxy's proxier_test.go fixtures.
const table: [string, string][] = [
  ['ns1/svc1:p80tcp', 'XPGD46QRK7WJZT7O'],
  ['ns2/svc2:p80tcp', 'GNZBNJ2PO5MGZ6GT'],
  ['ns5/svc5:p80tcp', 'NUKIZ6OKUXPJNT4C'],
  ['ns4/svc4:p8082tcp', 'EBDQOQU5SJFXRIL3'],
  ['default/kubernetes:httpstcp', 'NPX46M4PTMTKRN6Y'],
  ['kube-system/kube-dns:dnsudp', 'TCOU7JCQXEZGVUNU'],
  ['ns1/svc1tcp', 'AQI2S6QIMU7PVVRP'],
  ['ns1/svc1:p80sctp', 'GFCIFIA5VTFSTMSM'],
  ['ns1/svc1:p80tcp10.180.0.1:80', 'SXIVWICOYRO3J4NJ'],
  ['ns5/svc5:p80tcp10.180.0.3:80', 'I77PXRDZVX7PMWMN'],
  ['ns1/svc1:p80tcp10.0.0.0:80', 'DKGQUZGBKLTPAR56'],
  ['ns4/svc4:p8082tcp10.4.0.1:8082', 'SU5STNODRYEWJAUF'],
  ['ns1/svc1:p80tcp[fd00:10:180::1]:80', 'OGYCNMB4EMRUSJ6N'],
];

describe('chain-name hashes', () => {
  test.each(table)('%s -> %s', (input, expected) => {
    expect(hash16(input)).toBe(expected);
  });

  test('service and endpoint chain names share kube-proxy prefixes', () => {
    expect(serviceChainNames('ns1/svc1:p80', 'tcp')).toEqual({
      svc: 'KUBE-SVC-XPGD46QRK7WJZT7O',
      svl: 'KUBE-SVL-XPGD46QRK7WJZT7O',
      ext: 'KUBE-EXT-XPGD46QRK7WJZT7O',
      fw: 'KUBE-FW-XPGD46QRK7WJZT7O',
    });
    expect(endpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
  });

  test('only per-service chains count as service chains', () => {
    expect(isServiceChain('KUBE-SEP-SXIVWICOYRO3J4NJ')).toBe(true);
    expect(isServiceChain('KUBE-FW-NUKIZ6OKUXPJNT4C')).toBe(true);
    expect(isServiceChain('KUBE-SERVICES')).toBe(false);
    expect(isServiceChain('KUBE-MARK-MASQ')).toBe(false);
    expect(isServiceChain('KUBE-SVCX')).toBe(false);
  });
});
