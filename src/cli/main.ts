#!/usr/bin/env node
/**
 * Entry point of the `tickwork` command (`"bin": {"tickwork": "./dist/cli/main.js"}`).
 * @module
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
