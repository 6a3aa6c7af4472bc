/**
 * Bearer-token authentication with two roles: `read` (every `GET`) and `admin` (everything).
 * Tokens are compared in constant time, on SHA-256 digests so that their lengths do not leak either.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TickworkError, invalidOption } from '../core/errors.js';
import { optionsObject, rejectUnknownKeys } from '../core/validate.js';

/** A role: `read` may call every `GET` route; `admin` may also create, change, run and remove jobs. */
export type ApiRole = 'read' | 'admin';

/** One accepted bearer token. */
export interface ApiToken {
  /** The secret, sent as `Authorization: Bearer <token>`; at least 16 characters, no whitespace. */
  token: string;
  /** What the token may do. */
  role: ApiRole;
}

/**
 * Authentication of the API: the accepted tokens, or `false` to let every request through as `admin`
 * (a warning is logged once; only for a server that is reachable by trusted clients alone).
 */
export type ApiAuthOptions = { tokens: ApiToken[] } | false;

/** Shortest token accepted, in characters. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * What is wrong with a token given on a command line or in the environment, as the end of a sentence
 * ("TICKWORK_TOKEN must …"), or `null` when it is usable: too short, or containing whitespace (a token with
 * a space can never be sent as `Authorization: Bearer <token>`).
 */
export function tokenProblem(token: string): string | null {
  if (token.length < MIN_TOKEN_LENGTH) {
    return `must be at least ${MIN_TOKEN_LENGTH} characters (try: openssl rand -hex 32)`;
  }
  if (/\s/.test(token)) return 'must not contain whitespace (try: openssl rand -hex 32)';
  return null;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Compares two secrets in constant time: both are hashed with SHA-256 and the digests compared with
 * `crypto.timingSafeEqual`, so neither the content nor the length of `expected` shows in the timing.
 */
export function constantTimeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Checks bearer tokens against the configured ones. */
export class TokenAuth {
  private readonly entries: { digest: Buffer; role: ApiRole }[];

  /**
   * @throws TickworkError `INVALID_OPTION` (`auth`, `auth.tokens[i].token` shorter than
   * {@link MIN_TOKEN_LENGTH} or containing whitespace, a bad role, a token listed twice), `UNKNOWN_OPTION`.
   */
  constructor(options: { tokens: ApiToken[] }) {
    const opts = optionsObject(options, 'auth');
    rejectUnknownKeys(opts, ['tokens'], 'auth.');
    if (!Array.isArray(opts.tokens) || opts.tokens.length === 0) {
      throw invalidOption('auth.tokens', 'a non-empty array of { token, role }', opts.tokens);
    }
    const seen = new Set<string>();
    this.entries = (opts.tokens as unknown[]).map((entry, i) => {
      const field = `auth.tokens[${i}]`;
      const t = optionsObject(entry, field);
      rejectUnknownKeys(t, ['token', 'role'], field + '.');
      if (typeof t.token !== 'string' || t.token.length < MIN_TOKEN_LENGTH) {
        // What was given, without the secret: a missing one (an environment variable that is not set) or
        // its length.
        const got =
          typeof t.token === 'string'
            ? `a string of ${t.token.length} characters`
            : `\`${t.token === null ? 'null' : typeof t.token}\``;
        throw new TickworkError(
          'INVALID_OPTION',
          `Expected \`${field}.token\` to be a string of at least ${MIN_TOKEN_LENGTH} characters, got ${got}`,
          { field: `${field}.token` },
        );
      }
      if (/\s/.test(t.token)) {
        throw new TickworkError(
          'INVALID_OPTION',
          `Expected \`${field}.token\` to contain no whitespace (a bearer token is sent as one word)`,
          { field: `${field}.token` },
        );
      }
      if (t.role !== 'read' && t.role !== 'admin') {
        throw invalidOption(`${field}.role`, '"read" or "admin"', t.role);
      }
      if (seen.has(t.token)) {
        throw new TickworkError('INVALID_OPTION', `\`${field}.token\` is listed twice`, {
          field: `${field}.token`,
        });
      }
      seen.add(t.token);
      return { digest: digest(t.token), role: t.role };
    });
  }

  /**
   * The role of the request's `Authorization: Bearer` token, or `null` when it has none or an unknown one.
   * Every configured token is compared (no early exit), each in constant time.
   */
  authenticate(authorization: string | null): ApiRole | null {
    if (!authorization) return null;
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (!m) return null;
    const given = digest(m[1]!);
    let role: ApiRole | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(given, entry.digest)) role = entry.role;
    }
    return role;
  }
}

/** Whether `role` may call a route that needs `needed`. */
export function allows(role: ApiRole, needed: ApiRole): boolean {
  return role === 'admin' || needed === 'read';
}
