/** Everything the CLI touches outside itself, so tests can run commands in process. */
export interface CliIO {
  /** Writes to stdout; may be called many times (large outputs are streamed in chunks). */
  stdout(chunk: string): void;
  stderr(chunk: string): void;
  /** Reads a file (`-` = stdin) as UTF-8 text. Relative paths resolve against `cwd`. */
  readFile(path: string): Promise<string>;
  /** Reads a file (`-` = stdin) as bytes, for inputs that may be gzip or UTF-16; `readFile` when absent. */
  readBytes?(path: string): Promise<Uint8Array>;
  readonly cwd: string;
  readonly stdoutIsTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}
