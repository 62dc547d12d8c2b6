/**
 * An error caused by the user's input (a missing file, a malformed config, an unknown suite).
 * The command line prints its message as one line and exits non-zero, without a stack trace:
 * the message itself must name the file or field at fault.
 */
export class UserError extends Error {
  override readonly name: string = 'UserError';
  /** The process exit status when this error ends a command. */
  readonly exitCode: number = 1;
}

/** The user stopped a command (SIGINT, SIGTERM) and it stopped cleanly: exit 130, the shell's convention for SIGINT. */
export class InterruptedError extends UserError {
  override readonly name = 'InterruptedError';
  override readonly exitCode = 130;
}

/** The one-line reason for any thrown value, for the command line. */
export function oneLineReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0] ?? text;
}
