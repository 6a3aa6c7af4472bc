// The package (what `npm pack` puts in the tarball) holds every file its README links to and every docs/
// page its code and messages name: an installed copy's README, log lines and OpenAPI text point to them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function packedFiles(): Set<string> {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[];
  return new Set(pack!.files.map((f) => f.path));
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

test('the package holds the files the README links to and the docs/ pages the code names', () => {
  const files = packedFiles();
  const wanted = new Set<string>();
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
    if (!/^[a-z]+:/i.test(target!)) wanted.add(target!.replace(/^\.\//, ''));
  }
  for (const file of sources(join(root, 'src'))) {
    for (const [page] of readFileSync(file, 'utf8').matchAll(/docs\/[a-z-]+\.md/g)) wanted.add(page);
  }
  assert.ok(wanted.has('docs/stores.md'), 'the README links to docs/stores.md');
  const missing = [...wanted].filter((path) => !files.has(path)).sort();
  assert.deepEqual(missing, [], `not in the package: ${missing.join(', ')}`);
});
