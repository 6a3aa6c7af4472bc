/**
 * The option names of `PostgresStore`, in a module of their own: store URLs check them without loading the
 * `pg` driver (see `openStore`).
 * @module
 */

/** The keys of `PostgresStoreOptions`. */
export const POSTGRES_OPTION_KEYS = [
  'schema',
  'poolSize',
  'statementTimeout',
  'idleInTransactionTimeout',
  'maxRunsPerJob',
  'maxRunAge',
  'pruneEvery',
  'maxWakeInterval',
  'fireConcurrency',
  'listen',
] as const;
