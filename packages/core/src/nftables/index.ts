export { compileNFTables, renderNFTables } from './compile.js';
export type { NFTablesCompileOptions, NFTablesResult, NFTablesStats } from './compile.js';
