// A node agent using svcrules as a library: objects in (here read from the bundled example; an agent
// would take them from its informers), iptables-restore text, typed ruleset and diagnostics out.
// Run: node examples/library/node-agent.mjs   (after `pnpm install`, which builds the packages)
import { readFileSync } from 'node:fs';
import { compileObjects, compileSources, formatDiagnostic } from 'svcrules';

const path = new URL('../basic/services.yaml', import.meta.url);
const fromText = compileSources([{ name: 'services.yaml', text: readFileSync(path, 'utf8') }], { family: 'IPv4' });
if (!fromText.ok) {
  for (const d of fromText.diagnostics) console.error(formatDiagnostic(d));
  process.exit(1);
}

// The typed ruleset: count the endpoint chains per table without parsing text.
const nat = fromText.ruleset.tables.find((t) => t.name === 'nat');
const endpointChains = nat.chains.filter((c) => c.name.startsWith('KUBE-SEP-')).length;
console.error(`${fromText.result.stats.servicePorts} service ports, ${endpointChains} endpoint chains`);

// Objects an agent already holds compile the same way; bad ones come back as located diagnostics.
const bad = compileObjects([
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { clusterIP: '10.96.0.5', ports: [{ port: 70000 }] } },
]);
for (const d of bad.diagnostics) console.error(`rejected: ${formatDiagnostic(d)}`);

process.stdout.write(fromText.text);
