/**
 * A mistake of the user's (bad input, bad flags, a refused operation): printed without a stack,
 * with the exit code given (1 for bad input / refusal, 2 for usage).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Ends a command with an exit code after it has already printed what it had to say. */
export class ExitError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ExitError';
  }
}
