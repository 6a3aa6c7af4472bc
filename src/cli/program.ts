/**
 * The `tickwork` command line: a commander program that subcommands register themselves on.
 * @module
 */
import { Command, CommanderError } from 'commander';
import { registerNext } from './commands/next.js';

/** Where a program writes; tests capture these instead of spawning a process. */
export interface CliIO {
  /** Normal output (one call per line, without the newline). */
  out(line: string): void;
  /** Error output (one call per line, without the newline). */
  err(line: string): void;
}

/** The exit code for invalid input (a bad expression, zone or option). */
export const EXIT_USAGE = 2;

/** A failure that the CLI reports as a message and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const processIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Builds the `tickwork` program. Nothing runs until `parseAsync` is called; `exitOverride()` is set, so
 * errors surface as exceptions (`CommanderError` with an `exitCode`, or {@link CliError}) rather than
 * `process.exit`. More subcommands (`serve`, `jobs`) register here the way `next` does.
 */
export function buildProgram(io: CliIO = processIO): Command {
  const program = new Command('tickwork')
    .description("tickwork: a job scheduler for Node.js (APScheduler's model). Tools for schedules and jobs.")
    .exitOverride()
    .configureOutput({
      writeOut: (s) =>
        s
          .replace(/\n$/, '')
          .split('\n')
          .forEach((l) => io.out(l)),
      writeErr: (s) =>
        s
          .replace(/\n$/, '')
          .split('\n')
          .forEach((l) => io.err(l)),
    })
    .showHelpAfterError('(run with --help for usage)');
  registerNext(program, io);
  return program;
}

/**
 * Runs the program on `argv` (user arguments only, without `node` and the script) and returns the exit
 * code: 0 on success, 2 for invalid input, commander's code for `--help` (0) and usage errors.
 */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      for (const line of `error: ${err.message}`.split('\n')) io.err(line);
      return err.exitCode;
    }
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were printed by commander already
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    io.err(`error: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}
