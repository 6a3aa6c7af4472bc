/**
 * The OpenAPI 3.1 document of the API, generated from the route table and its zod schemas (JSON Schema
 * 2020-12, which OpenAPI 3.1 uses as is).
 * @module
 */
import { z, type ZodType } from 'zod';
import type { Route } from './router.js';
import { ErrorBody } from './schemas.js';

/** An OpenAPI 3.1 document (loosely typed). */
export type OpenApiDocument = Record<string, unknown> & {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
};

/** Options of {@link buildOpenApi}. */
export interface OpenApiOptions {
  /** The prefix the API is mounted under, as the server URL. */
  prefix: string;
  /** `info.title`. @defaultValue `"tickwork scheduler API"` */
  title?: string;
  /** `info.version`. @defaultValue `"1"` */
  version?: string;
  /** Whether routes require bearer tokens. */
  auth: boolean;
}

/**
 * JSON Schema of `schema`. Named schemas (zod `.meta({ id })`) move to `components` and are referenced as
 * `#/components/schemas/<id>`.
 */
function schemaOf(
  schema: ZodType,
  io: 'input' | 'output',
  components: Record<string, unknown>,
): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  const defs = (out.$defs ?? {}) as Record<string, unknown>;
  delete out.$defs;
  const relink = <T>(value: T): T =>
    JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as T;
  for (const [id, def] of Object.entries(defs)) components[id] ??= relink(def);
  return relink(out);
}

/** `/jobs/:id` → `/jobs/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Builds the document for `routes`. */
export function buildOpenApi(routes: readonly Route[], options: OpenApiOptions): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = {};
  const errorSchema = schemaOf(ErrorBody, 'output', schemas);
  for (const route of routes) {
    const path = openApiPath(route.path);
    const parameters: unknown[] = [];
    for (const m of route.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
      parameters.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    }
    if (route.query) {
      const q = schemaOf(route.query, 'input', schemas) as {
        properties?: Record<string, Record<string, unknown>>;
        required?: string[];
      };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        const { description, ...rest } = schema;
        parameters.push({
          name,
          in: 'query',
          required: q.required?.includes(name) ?? false,
          ...(description ? { description } : {}),
          schema: rest,
        });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const type = spec.contentType ?? 'application/json';
      const content = spec.schema
        ? { [type]: { schema: schemaOf(spec.schema, 'output', schemas) } }
        : spec.contentType
          ? { [type]: { schema: { type: 'string' } } }
          : undefined;
      responses[status] = { description: spec.description, ...(content ? { content } : {}) };
    }
    const errors: Record<string, string> = {
      ...(options.auth
        ? { '401': 'Missing or unknown bearer token', '403': 'The token’s role may not do this' }
        : {}),
      '400': 'Invalid input; `details.field` names it',
    };
    for (const [status, description] of Object.entries(errors)) {
      responses[status] ??= { description, content: { 'application/json': { schema: errorSchema } } };
    }
    responses.default = {
      description: 'Error',
      content: { 'application/json': { schema: errorSchema } },
    };
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(route.body, 'input', schemas) } },
            },
          }
        : {}),
      responses,
      ...(options.auth
        ? {
            security: [{ bearer: [] }],
            'x-required-role': route.role,
          }
        : {}),
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: options.title ?? 'tickwork scheduler API',
      version: options.version ?? '1',
      description:
        'Jobs, runs, status, Prometheus metrics and a server-sent event stream of a tickwork scheduler. ' +
        'Times are ISO 8601; durations are milliseconds. GET routes need a `read` or `admin` token, ' +
        'others an `admin` token.',
    },
    servers: [{ url: options.prefix || '/' }],
    paths,
    components: {
      schemas,
      ...(options.auth ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } : {}),
    },
  };
}
