import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { run } from './program.js';
import type { CliIO } from './io.js';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The real IO: the only place that touches process.* */
export function processIO(): CliIO {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    readFile: async (p) => (p === '-' ? (await readStdin()).toString('utf8') : readFile(resolve(process.cwd(), p), 'utf8')),
    readBytes: (p) => (p === '-' ? readStdin() : readFile(resolve(process.cwd(), p))),
    cwd: process.cwd(),
    stdoutIsTTY: process.stdout.isTTY === true,
    env: process.env,
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  // A reader that stops early (`svcrules compile ... | head`) is not an error: end quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const code = await run(argv, processIO());
  // Let stdout drain before exiting: large rulesets are written in many chunks.
  process.exitCode = code;
}
