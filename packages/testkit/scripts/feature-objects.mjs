// The objects every generated feature fixture starts with: kube-proxy's configuration for node
// test-node (cluster CIDR 10.0.0.0/8) and that Node, as `kubectl get -o yaml` prints them.
// Shared by the gen-feature-*.mjs scripts.

/**
 * `comment` lines (without '# '), then the KubeProxyConfiguration and the Node with `labels` (besides
 * kubernetes.io/hostname) and, with `hostnameAddress`, its Hostname address too.
 */
export function featureHeader(comment, { labels = {}, hostnameAddress = false } = {}) {
  const extra = Object.entries(labels).map(([k, v]) => `    ${k}: ${v}\n`).join('');
  return `${comment.map((l) => `# ${l}\n`).join('')}apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: test-node
clusterCIDR: 10.0.0.0/8
detectLocalMode: ClusterCIDR
---
apiVersion: v1
kind: Node
metadata:
  name: test-node
  labels:
    kubernetes.io/hostname: test-node
${extra}spec:
  podCIDR: 10.180.0.0/24
  podCIDRs:
  - 10.180.0.0/24
status:
  addresses:
  - type: InternalIP
    address: 192.168.0.2
${hostnameAddress ? '  - type: Hostname\n    address: test-node\n' : ''}`;
}
