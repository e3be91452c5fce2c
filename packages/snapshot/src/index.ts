export {};
export { endpointSlicesToYaml } from './emit.js';
