// The OpenAPI document lists exactly the router's routes; docs/http.md lists exactly the HTTP error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HTTP_ERROR_CODES } from '../../src/http/index.js';
import { harness } from './helpers.js';

test('GET /openapi.json is an OpenAPI 3.1 document of exactly the routes the router has', async () => {
  const h = await harness();
  const res = await h.json('GET', '/scheduler/openapi.json');
  assert.equal(res.status, 200);
  const doc = res.body;
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(doc.servers, [{ url: '/scheduler' }]);
  assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
  const routed = h.api.routes.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`).sort();
  assert.deepEqual(documented, routed);
  assert.deepEqual(routed, [
    'DELETE /jobs/{id}',
    'GET /events',
    'GET /jobs',
    'GET /jobs/{id}',
    'GET /metrics',
    'GET /nodes',
    'GET /openapi.json',
    'GET /runs',
    'GET /runs/{id}',
    'GET /status',
    'PATCH /jobs/{id}',
    'POST /jobs',
    'POST /jobs/{id}/pause',
    'POST /jobs/{id}/resume',
    'POST /jobs/{id}/run',
  ]);
  // Every documented route answers (not 404/405) at its path.
  for (const route of h.api.routes) {
    const path = '/scheduler' + route.path.replace(':id', 'nope');
    const r = await h.call(route.method, path);
    assert.notEqual(r.headers.get('content-type'), null, `${route.method} ${path}`);
    assert.ok(r.status !== 405, `${route.method} ${path}`);
    if (r.status === 404)
      assert.match(((await r.json()) as { code: string }).code, /JOB_NOT_FOUND|RUN_NOT_FOUND/);
    else await r.body?.cancel();
  }
  h.api.close();
  await h.close();
});

test('the document carries the zod schemas: parameters, bodies, roles and error responses', async () => {
  const h = await harness();
  const doc = (await h.json('GET', '/scheduler/openapi.json')).body;
  const list = doc.paths['/jobs'].get;
  const params = Object.fromEntries(list.parameters.map((p: { name: string }) => [p.name, p]));
  assert.deepEqual(Object.keys(params).sort(), ['cursor', 'limit', 'offset', 'paused', 'sort', 'taskId']);
  assert.equal(params.limit.schema.maximum, 500);
  assert.equal(params.limit.schema.default, 50);
  assert.deepEqual(params.sort.schema.enum, ['id', 'nextRunTime', 'name']);
  assert.equal(list['x-required-role'], 'read');
  const create = doc.paths['/jobs'].post;
  assert.equal(create['x-required-role'], 'admin');
  const ref = (schema: { $ref?: string }) =>
    schema.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
  const body = ref(create.requestBody.content['application/json'].schema);
  assert.deepEqual(body.required.sort(), ['taskId', 'trigger']);
  assert.equal(body.additionalProperties, false);
  assert.ok(ref(body.properties.trigger).anyOf.length >= 2);
  assert.ok(ref(create.responses['201'].content['application/json'].schema).properties.nextRunTime);
  // Every reference resolves.
  for (const m of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
    assert.ok(doc.components.schemas[m[1]!], `schema ${m[1]}`);
  }
  assert.ok(create.responses['409']);
  // A PATCH with a trigger that lost the compare-and-set to other changes 5 times: 409 JOB_VERSION_CONFLICT.
  assert.match(doc.paths['/jobs/{id}'].patch.responses['409'].description, /JOB_VERSION_CONFLICT/);
  assert.equal(doc.paths['/jobs/{id}'].get.parameters[0].in, 'path');
  assert.ok(doc.paths['/events'].get.responses['200'].content['text/event-stream']);
  assert.ok(doc.paths['/runs'].get.parameters.some((p: { name: string }) => p.name === 'status'));
  // The document is valid JSON Schema 2020-12 only where it says so: no zod-only leftovers.
  assert.doesNotMatch(JSON.stringify(doc), /"~standard"|"_zod"/);
  await h.close();
});

test('with auth: false the document has no security requirements', async () => {
  const h = await harness({ api: { auth: false } });
  const doc = h.api.openapi();
  assert.equal((doc.components as { securitySchemes?: unknown }).securitySchemes, undefined);
  assert.equal((doc.paths['/jobs'] as { get: { security?: unknown } }).get.security, undefined);
  await h.close();
});

test('docs/http.md lists exactly the HTTP-only error codes, with their statuses', () => {
  const doc = readFileSync(new URL('../../docs/http.md', import.meta.url), 'utf8');
  const start = doc.indexOf('## HTTP-only error codes');
  assert.ok(start >= 0, 'docs/http.md has a section "HTTP-only error codes"');
  const end = doc.indexOf('\n## ', start + 1);
  const rows = new Map<string, number>();
  for (const line of doc.slice(start, end < 0 ? undefined : end).split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]));
  }
  const expected = new Map(Object.entries(HTTP_ERROR_CODES).map(([code, { status }]) => [code, status]));
  assert.deepEqual(rows, expected);
});
