// The core is pure and compiled without Node's types; this is the one platform facility it uses.
declare module 'node:crypto' {
  interface Hash {
    update(data: string): Hash;
    digest(): Uint8Array;
  }
  export function createHash(algorithm: 'sha256'): Hash;
}
