import { Command } from 'commander';
import { deriveEndpointSlices } from '@svcrules/core';
import { endpointSlicesToYaml } from '@svcrules/snapshot';
import type { CliIO } from '../io.js';
import { addInputFlags, loadInputs } from '../compile-input.js';

interface EndpointsFlags {
  all?: boolean;
  skipInvalid?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  endpointsAsMirrored?: boolean;
}

/**
 * `svcrules endpoints`: the EndpointSlices the EndpointSlice controller would write for the selector
 * Services of a snapshot (the ones `compile` derives from Pods), as YAML `kubectl apply` accepts.
 */
export function registerEndpoints(program: Command, io: CliIO): void {
  const cmd = new Command('endpoints')
    .description(
      'print the EndpointSlices derived from Pods for selector Services without slices of their own, as a kubectl List ' +
        '(to keep beside a snapshot; in a live cluster the controller owns slices with these labels)',
    )
    .argument('[file...]', 'snapshot files: Services, Pods, Nodes, EndpointSlices, Endpoints (- = stdin)')
    .option('--all', 'also print the EndpointSlices given in the input, before the derived ones')
    .option('--skip-invalid', 'go on without invalid objects, reporting them as warnings');
  addInputFlags(cmd).action(async (files: string[], flags: EndpointsFlags) => {
    const snapshot = await loadInputs(io, files, flags);
    const derived = deriveEndpointSlices(snapshot);
    io.stdout(endpointSlicesToYaml(flags.all ? [...snapshot.endpointSlices, ...derived] : derived));
  });
  program.addCommand(cmd);
}
