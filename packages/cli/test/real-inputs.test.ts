import { gzipSync } from 'node:zlib';
import { runCli } from './run-cli.js';

/** Issue 10, through the CLI: the inputs users really have, each with its exact message and exit code. */
const run = (argv: string[], files: Record<string, string | Uint8Array>) => runCli(argv, '/', { files });

const svc = (name: string, extra: string, ports = '  ports:\n  - {name: http, port: 80, targetPort: 8080}') =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  clusterIP: 10.96.0.${name.length + 10}\n${extra}${ports}\n---\n`;
const ep = (name: string, subsets: string, labels = '') =>
  `apiVersion: v1\nkind: Endpoints\nmetadata: {name: ${name}, namespace: shop${labels}}\nsubsets:\n${subsets}---\n`;
const NODE = 'apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.2}]}\n---\n';

const SVC_EP =
  NODE +
  svc('web', '  selector: {app: web}\n') +
  ep('web', '- addresses: [{ip: 10.244.1.5, nodeName: node-1}, {ip: 10.244.2.7, nodeName: node-2}]\n  notReadyAddresses: [{ip: 10.244.2.9}]\n  ports: [{name: http, port: 8080}]\n') +
  svc('api', '') +
  ep('api', '- addresses: [{ip: 192.168.0.2}]\n  ports: [{name: http, port: 6443}]\n', ', labels: {endpointslice.kubernetes.io/skip-mirror: "true"}');

const NOTE =
  'svcrules: note: 2 Services have no EndpointSlices in the input: their v1 Endpoints stand in, as the EndpointSlice controller publishes the same addresses (--verbose lists them; --endpoints-as-mirrored reads Endpoints only as the mirroring controller does)\n';

describe('1. v1 Endpoints stand in for missing EndpointSlices', () => {
  test('kubectl get svc,ep: every ready address becomes a SEP, no REJECT, one note', async () => {
    const r = await run(['compile', 'dump.yaml'], { 'dump.yaml': SVC_EP });
    expect([r.code, r.err]).toEqual([0, NOTE]);
    expect(r.out).not.toContain('REJECT');
    expect(r.out.match(/-j DNAT --to-destination \S+/g)).toEqual(['-j DNAT --to-destination 192.168.0.2:6443', '-j DNAT --to-destination 10.244.1.5:8080', '-j DNAT --to-destination 10.244.2.7:8080']);
  });

  test('--verbose says it per Service; --quiet silences the note', async () => {
    const v = await run(['compile', '--verbose', 'dump.yaml'], { 'dump.yaml': SVC_EP });
    expect(v.err.split('\n').filter((l) => l.includes('stands in'))).toEqual([
      'dump.yaml:15:1: Endpoints shop/web stands in for the IPv4 EndpointSlices of its Service (2 ready, 1 not ready; mirroring would skip it: its Service has a selector (the EndpointSlice controller owns its slices))',
      'dump.yaml:31:1: Endpoints shop/api stands in for the IPv4 EndpointSlices of its Service (1 ready, 0 not ready; mirroring would skip it: labelled endpointslice.kubernetes.io/skip-mirror: "true")',
    ]);
    const q = await run(['compile', '--quiet', 'dump.yaml'], { 'dump.yaml': SVC_EP });
    expect([q.code, q.err]).toEqual([0, '']);
  });

  test('--endpoints-as-mirrored keeps the mirroring controller strictly: REJECTs, and the Endpoints counted as ignored', async () => {
    const r = await run(['compile', '--endpoints-as-mirrored', 'dump.yaml'], { 'dump.yaml': SVC_EP });
    expect([r.code, r.err]).toEqual([0, 'svcrules: note: 2 objects were ignored (--verbose says why)\n']);
    expect(r.out.match(/--comment "[^"]+ has no endpoints"/g)).toEqual(['--comment "shop/api:http has no endpoints"', '--comment "shop/web:http has no endpoints"']);
  });
});

describe('2. empty strings are unset (API defaulting)', () => {
  test('a Helm-rendered Service with "" everywhere compiles exactly like one without the fields', async () => {
    const helm = svc('web', '  type: ""\n  sessionAffinity: ""\n  externalTrafficPolicy: ""\n  internalTrafficPolicy: ""\n', '  ports:\n  - {name: http, port: 80, protocol: "", targetPort: ""}');
    const plain = svc('web', '');
    const a = await run(['compile', 'helm.yaml'], { 'helm.yaml': NODE + helm });
    const b = await run(['compile', 'plain.yaml'], { 'plain.yaml': NODE + plain });
    expect([a.code, a.err]).toEqual([0, '']);
    expect(a.out).toBe(b.out);
    expect(a.out).toContain('"shop/web:http has no endpoints" -m tcp -p tcp -d 10.96.0.13 --dport 80 -j REJECT');
  });
});

describe("3. kube-proxy's ConfigMap", () => {
  const cm = (conf: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kube-proxy\n  namespace: kube-system\ndata:\n  config.conf: |-\n${conf.replace(/^/gm, '    ')}\n  kubeconfig.conf: |-\n    apiVersion: v1\n    kind: Config\n---\n`;
  test('data["config.conf"] is the configuration (masqueradeBit 4 gives mark 0x00000010)', async () => {
    const r = await run(['compile', 'cm.yaml'], { 'cm.yaml': NODE + cm('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ""\niptables:\n  masqueradeBit: 4') + svc('web', '') });
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000010\n');
  });
  test('an error inside it names the line of the outer file', async () => {
    const r = await run(['compile', 'cm.yaml'], { 'cm.yaml': NODE + cm('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables:\n  masqueradeBit: 32') });
    expect([r.code, r.out, r.err]).toEqual([
      1,
      '',
      'cm.yaml:16:22: KubeProxyConfiguration: iptables.masqueradeBit: expected an integer from 0 to 31, got 32 [invalid-masquerade-bit]\nsvcrules: 1 error in the input; nothing compiled (--skip-invalid compiles the valid objects)\n',
    ]);
  });
});

describe('4. nothing vanishes without a word', () => {
  const input =
    NODE +
    svc('web', '') +
    'apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: shop}\nspec: {clusterIP: None, ports: [{port: 5432}]}\n---\n' +
    'apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: shop}\nspec: {type: ExternalName, externalName: example.com}\n---\n' +
    'apiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\nspec: {ports: [{port: 80}]}\n---\n' +
    'apiVersion: v1\nkind: Service\nmetadata: {name: mesh, namespace: shop, labels: {service.kubernetes.io/service-proxy-name: istio}}\nspec: {clusterIP: 10.96.0.99, ports: [{port: 80}]}\n---\n' +
    'apiVersion: v1\nkind: Service\nmetadata: {name: v6, namespace: shop}\nspec: {clusterIP: "fd00::10", ports: [{port: 80}]}\n---\n' +
    'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: orphan-x, namespace: shop, labels: {kubernetes.io/service-name: gone}}\naddressType: IPv4\nendpoints: []\nports: []\n---\n' +
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n';
  test('without --verbose: one line counts them and points at --verbose', async () => {
    const r = await run(['compile', 'in.yaml'], { 'in.yaml': input });
    expect([r.code, r.err]).toEqual([0, 'svcrules: note: 5 Services yield no IPv4 rules and 2 objects were ignored (--verbose says why)\n']);
  });
  test('with --verbose: each with its reason, in input order', async () => {
    const r = await run(['compile', '--verbose', 'in.yaml'], { 'in.yaml': input });
    expect(r.err.split('\n').filter((l) => !l.startsWith('svcrules: '))).toEqual([
      'in.yaml:46:1: ignored Deployment shop/web: svcrules does not read this kind',
      'in.yaml:14:1: Service shop/db has no IPv4 rules: headless (clusterIP None: DNS only, kube-proxy writes no rules)',
      'in.yaml:19:1: Service shop/ext has no IPv4 rules: type ExternalName (a DNS name only; kube-proxy writes no rules)',
      'in.yaml:24:1: Service shop/new has no IPv4 rules: no clusterIP allocated yet (a manifest: the API server allocates it on creation)',
      'in.yaml:29:1: Service shop/mesh has no IPv4 rules: labelled service.kubernetes.io/service-proxy-name (kube-proxy does not watch it; another proxy serves it)',
      'in.yaml:34:1: Service shop/v6 has no IPv4 rules: no IPv4 cluster IP (ipFamilies IPv6)',
      'in.yaml:39:1: ignored EndpointSlice shop/orphan-x: no Service shop/gone in the input',
      '',
    ]);
  });
});

describe('5. empty means danger', () => {
  const empty = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: y}\n';
  test('compile warns', async () => {
    const r = await run(['compile', 'e.yaml'], { 'e.yaml': empty });
    expect([r.code, r.err]).toEqual([
      0,
      'svcrules: note: 1 object was ignored (--verbose says why)\nsvcrules: warning: the input has no Service: its rules hold only the fixed chains, and applying them would delete every service chain\n' +
        'warning: no node name (no Node object, --node or hostnameOverride): no endpoint is local [no-node-name]\n',
    ]);
  });
  test.each([['apply'], ['diff']])('%s refuses it, before touching the host', async (cmd) => {
    for (const text of ['', empty]) {
      const r = await run([cmd, '--quiet', 'e.yaml'], { 'e.yaml': text });
      expect([r.code, r.out, r.err]).toEqual([1, '', 'svcrules: the input has no Service: this would delete every service chain (--allow-empty to do it anyway)\n']);
    }
  });
  test('--allow-empty lets it through (here to the next check, a bad --wait)', async () => {
    const r = await run(['apply', '--allow-empty', '--wait', 'x', 'e.yaml'], { 'e.yaml': '' });
    expect([r.code, r.err]).toEqual([2, 'svcrules: --wait: "x" is not a number of seconds\n']);
  });
});

describe('6. what people paste by mistake', () => {
  const yaml = svc('web', '');
  test.each<[string, string | Uint8Array, string]>([
    ['a $ kubectl prompt line', `$ kubectl get svc -o yaml\n${yaml}`, 'p:1:1: a shell prompt and command ("$ kubectl get svc -o yaml"), not kubectl\'s output: delete this line and keep only what the command printed [paste-mistake]'],
    ['a -o wide table', 'NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE   SELECTOR\nweb    ClusterIP   10.96.0.13   <none>        80/TCP    1d    app=web\n', 'p:1:1: a kubectl table ("NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"), which leaves out what the rules need: run kubectl get with -o yaml or -o json, e.g. kubectl get svc,endpointslices -A -o yaml [paste-mistake]'],
    ['a blog\'s ... elision', yaml.replace('spec:\n', 'spec:\n  ...\n'), 'p:5:3: an elision ("...") where part of the output was left out: svcrules needs the objects complete; paste kubectl\'s whole output [paste-mistake]'],
    ['a bare JSON array of items without kind', '[{"metadata": {"name": "web"}, "spec": {}}]', 'p:1:1: expected a Kubernetes object (a mapping with apiVersion and kind), got a bare JSON array of 1 object without kind (a selection such as jq .items?): give kubectl\'s whole output, a List with apiVersion, kind and items [not-an-object]'],
    ['JSON nested too deep', `{"a": ${'['.repeat(600)}${']'.repeat(600)}}`, 'p:1:519: invalid JSON: nesting too deep: more than 512 levels (no Kubernetes object is nested this deep) [syntax]'],
    ['a JSON array nested too deep', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'p:1:100: nesting too deep: more than 100 levels (no Kubernetes object is nested this deep) [paste-mistake]'],
  ])('%s', async (_what, text, message) => {
    const r = await run(['compile', 'p'], { p: text });
    expect([r.code, r.out, r.err]).toEqual([1, '', `${message}\nsvcrules: 1 error in the input; nothing compiled (--skip-invalid compiles the valid objects)\n`]);
  });

  test('UTF-16 (PowerShell) and gzip are read, with a note', async () => {
    const plain = await run(['compile', 'p'], { p: NODE + yaml });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(NODE + yaml, 'utf16le')]);
    const a = await run(['compile', 'p'], { p: utf16 });
    expect([a.code, a.err, a.out]).toEqual([0, 'svcrules: note: p: read as UTF-16LE text (Windows PowerShell writes that)\n', plain.out]);
    const b = await run(['compile', 'p.gz'], { 'p.gz': gzipSync(Buffer.from(NODE + yaml)) });
    expect([b.code, b.err, b.out]).toEqual([0, 'svcrules: note: p.gz: gzip data, decompressed\n', plain.out]);
  });

  test('binary data and broken gzip are refused with what they are', async () => {
    const bin = await run(['compile', 'b'], { b: new Uint8Array([0x00, 0x01, 0x02, 0x00, 0xff, 0x10]) });
    expect([bin.code, bin.err]).toEqual([1, 'svcrules: b: binary data, not text (expected the YAML or JSON that kubectl get -o yaml|json prints)\n']);
    const gz = await run(['compile', 'b.gz'], { 'b.gz': gzipSync(Buffer.from(yaml)).subarray(0, 12) });
    expect(gz.code).toBe(1);
    expect(gz.err).toMatch(/^svcrules: b\.gz: gzip data that does not decompress \(.+\); is the file complete\?\n$/);
  });
});

describe('8. flags as users type them', () => {
  test('--family IPv6 is --family ipv6', async () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: v6, namespace: shop}\nspec: {clusterIP: "fd00::10", ports: [{port: 80}]}\n';
    const a = await run(['compile', '--family', 'IPv6', 'v.yaml'], { 'v.yaml': text });
    const b = await run(['compile', '--family', 'ipv6', 'v.yaml'], { 'v.yaml': text });
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).toContain('-d fd00::10 --dport 80');
    const bad = await run(['compile', '--family', 'IPv5', 'v.yaml'], { 'v.yaml': text });
    expect([bad.code, bad.err.split('\n')[0]]).toEqual([2, "error: option '--family <family>' argument 'IPv5' is invalid. Allowed choices are ipv4, ipv6."]);
  });
  test('--node is lower-cased as kube-proxy does', async () => {
    const text = NODE + svc('web', '') + ep('web', '- addresses: [{ip: 10.244.1.5, nodeName: node-1}]\n  ports: [{name: http, port: 8080}]\n', '');
    const a = await run(['compile', '--quiet', '--node', ' Node-1 ', 'in.yaml'], { 'in.yaml': text.replace(NODE, '') });
    const b = await run(['compile', '--quiet', '--node', 'node-1', 'in.yaml'], { 'in.yaml': text.replace(NODE, '') });
    expect([a.code, a.err]).toEqual([0, '']);
    expect(a.out).toBe(b.out);
  });
  test('two --node-ip of one family is a usage error', async () => {
    const r = await run(['compile', '--node-ip', '10.0.0.1', '--node-ip', '10.0.0.2', 'in.yaml'], { 'in.yaml': svc('web', '') });
    expect([r.code, r.out, r.err]).toEqual([2, '', 'svcrules: --node-ip: "10.0.0.1" and "10.0.0.2" are both IPv4; give at most one node IP per family\n']);
    const ok = await run(['compile', '--quiet', '--node-ip', '10.0.0.1', '--node-ip', 'fd00::1', 'in.yaml'], { 'in.yaml': svc('web', '') });
    expect(ok.code).toBe(0);
  });
});
