#!/usr/bin/env node
/**
 * Entry point of the `tickwork` command (`"bin": {"tickwork": "./dist/cli/main.js"}`).
 * @module
 */
import { runCli } from './program.js';

// A reader that stops early (`tickwork jobs list --json | head -1`) closes the pipe: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await runCli(process.argv.slice(2));
