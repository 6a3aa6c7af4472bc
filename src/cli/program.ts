/**
 * The `tickwork` command line: a commander program that subcommands register themselves on.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerJobs } from './commands/jobs.js';
import { registerNext } from './commands/next.js';
import { registerServe } from './commands/serve.js';

/** Where a program writes; tests capture these instead of spawning a process. */
export interface CliIO {
  /** Normal output (one call per line, without the newline). */
  out(line: string): void;
  /** Error output (one call per line, without the newline). */
  err(line: string): void;
}

/** The exit code for a server or API error (unreachable server, 5xx, a refused token, a conflict). */
export const EXIT_ERROR = 1;
/** The exit code for invalid input (a bad expression, zone, option, config or request). */
export const EXIT_USAGE = 2;
/** The exit code when the job (or run) asked for does not exist. */
export const EXIT_NOT_FOUND = 3;

/** What the commands read from their surroundings; tests pass their own instead of the process's. */
export interface ProgramOptions {
  /** Environment variables (`TICKWORK_URL`, `TICKWORK_TOKEN`, ...). @defaultValue `process.env` */
  env?: Record<string, string | undefined>;
  /** Directory that relative paths (`--config`, the default SQLite file) are read from. @defaultValue `process.cwd()` */
  cwd?: string;
  /**
   * Stops `tickwork serve` (gracefully) when it aborts. @defaultValue none: `serve` stops on SIGINT/SIGTERM
   */
  signal?: AbortSignal;
}

/** {@link ProgramOptions} with the defaults filled in. */
export interface CliContext {
  io: CliIO;
  env: Record<string, string | undefined>;
  cwd: string;
  signal: AbortSignal | null;
}

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

/** The package's version (`package.json` is two levels up from both `src/cli` and `dist/cli`). */
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const processIO: CliIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Builds the `tickwork` program: `next`, `serve`, `jobs list|show|add|pause|resume|run|remove`. Nothing runs until
 * `parseAsync` is called; `exitOverride()` is set, so errors surface as exceptions (`CommanderError` with
 * an `exitCode`, or {@link CliError} with {@link EXIT_ERROR}, {@link EXIT_USAGE} or {@link EXIT_NOT_FOUND})
 * rather than `process.exit`.
 */
export function buildProgram(io: CliIO = processIO, options: ProgramOptions = {}): Command {
  const context: CliContext = {
    io,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    signal: options.signal ?? null,
  };
  const program = new Command('tickwork')
    .description("tickwork: a job scheduler for Node.js (APScheduler's model). Tools for schedules and jobs.")
    .version(VERSION, '-V, --version', 'print the version of tickwork')
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
  registerServe(program, context);
  registerJobs(program, context);
  // Subcommands inherit exitOverride, the output and showHelpAfterError (commander copies them).
  return program;
}

/**
 * Runs the program on `argv` (user arguments only, without `node` and the script) and returns the exit
 * code: 0 on success, 1 for a server or API error, 2 for invalid input (and commander's usage errors),
 * 3 when the job asked for does not exist; `--help` is 0.
 */
export async function runCli(
  argv: string[],
  io: CliIO = processIO,
  options: ProgramOptions = {},
): Promise<number> {
  const program = buildProgram(io, options);
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
