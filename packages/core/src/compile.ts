import { deriveSlices } from './derive-slices.js';
import type { Snapshot } from './model.js';
import type { CompileOptions } from './options.js';
import { buildModel } from './proxy-model.js';
import { renderIptables } from './iptables/render-model.js';
import type { CompileResult } from './iptables/render-model.js';

/**
 * Compiles a snapshot into the ruleset kube-proxy's iptables proxier writes in a full sync, for one
 * IP family, in three steps: derive (Pods -> EndpointSlices, `deriveSlices`), model (every
 * Kubernetes decision, `buildModel`), render (iptables text, `renderIptables`). Pure and
 * deterministic: the same snapshot gives the same bytes whatever its order.
 */
export function compile(input: Snapshot, options: CompileOptions = {}): CompileResult {
  return renderIptables(buildModel(deriveSlices(input), options), options);
}
