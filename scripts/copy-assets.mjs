#!/usr/bin/env node
// `npm run build`, after tsc: copies the dashboard's static files (src/dashboard/assets/) next to the
// compiled module (dist/dashboard/assets/), which serves them. Nothing is generated at run time.
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../src/dashboard/assets/', import.meta.url));
const to = fileURLToPath(new URL('../dist/dashboard/assets/', import.meta.url));
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true, filter: (path) => !path.endsWith('tsconfig.json') });
