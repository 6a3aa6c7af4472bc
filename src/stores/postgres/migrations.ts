/**
 * Numbered migrations of the PostgreSQL schema. `PostgresStore.start()` applies the missing ones, in order,
 * in one transaction under `pg_advisory_xact_lock`, with `search_path` set to the store's schema (so the SQL
 * here names no schema), and records each in the schema's `migrations` table. A migration, once released,
 * never changes: fix mistakes with a new one. `schema.sql` beside this file is the resulting schema, checked
 * by `test/contract/postgres-schema.test.ts`.
 * @module
 */

/** One migration. */
export interface Migration {
  /** 1, 2, 3, ... without gaps. */
  version: number;
  /** What it does, for the `migrations` table and logs. */
  name: string;
  /** The SQL, unqualified (run with `search_path` set to the store's schema). */
  sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs and runs',
    sql: `
CREATE TABLE jobs (
  id text PRIMARY KEY,
  name text NOT NULL,
  task_id text NOT NULL,
  trigger text NOT NULL,
  args text NOT NULL,
  max_instances integer NOT NULL,
  misfire_grace_time double precision,
  coalesce boolean NOT NULL,
  jitter double precision,
  timeout double precision,
  retry text,
  paused boolean NOT NULL,
  next_run_time timestamptz,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX jobs_due ON jobs (next_run_time) WHERE NOT paused;
CREATE INDEX jobs_task ON jobs (task_id);

-- Jobs that their own firing step removed (no more fire times) while runs of them may still be pending:
-- those runs need the job's args and policy when they start. Pruned once none of their runs is active.
CREATE TABLE retired_jobs (LIKE jobs INCLUDING DEFAULTS);
ALTER TABLE retired_jobs ADD PRIMARY KEY (id);

CREATE TABLE runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id text NOT NULL,
  task_id text NOT NULL,
  scheduled_fire_time timestamptz NOT NULL,
  not_before timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'timed-out', 'missed',
    'skipped', 'abandoned', 'cancelled')),
  manual boolean NOT NULL,
  attempt integer NOT NULL DEFAULT 0,
  owner text,
  lease_expires_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  error text,
  result text,
  created_at timestamptz NOT NULL
);
-- Firing is exactly-once: one scheduled run per (job, fire time). The same index serves a job's history.
-- (Every index costs each fire an insert, each start and each finish an update: keep them few.)
CREATE UNIQUE INDEX runs_job ON runs (job_id, scheduled_fire_time DESC, manual);
CREATE INDEX runs_time ON runs (scheduled_fire_time DESC);
CREATE INDEX runs_active ON runs (job_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_pending ON runs (not_before) WHERE status = 'pending';
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';
`,
  },
  {
    version: 2,
    name: 'nodes',
    sql: `
-- The scheduler processes sharing the schema, for observability only (no decision reads this table).
-- Each node upserts its row from its loop; rows unseen for an hour are pruned by the others.
CREATE TABLE nodes (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  clock_offset double precision NOT NULL DEFAULT 0
);
`,
  },
  {
    version: 3,
    name: 'job list orders',
    sql: `
-- getJobs sorted by next run time or by name, paged with LIMIT/OFFSET: without these, every page sorts the
-- whole table (about 20 ms for 10,000 jobs, more on a busy server); with them a page reads the index up to its
-- end. (jobs_due covers unpaused jobs only.) The "C" collation is the one of the ORDER BY (code point order).
CREATE INDEX jobs_next_run ON jobs (next_run_time, id COLLATE "C");
CREATE INDEX jobs_name ON jobs (name COLLATE "C", id COLLATE "C");
`,
  },
  {
    version: 4,
    name: 'fewer job indexes',
    sql: `
-- Every firing updates next_run_time, so every index on jobs gets an entry per fire (no HOT update).
-- jobs_next_run serves the claim (next_run_time <= now: paused jobs have none) and the wake-up query as well
-- as jobs_due did; jobs_task served only a filter of the job list, which a scan of the table answers.
DROP INDEX jobs_due;
DROP INDEX jobs_task;
`,
  },
  {
    version: 5,
    name: 'quarantine reason',
    sql: `
-- Why the store paused a job it could not plan (JobRecord.quarantine): not an operator's pause. Added to both
-- tables alike: the firing step moves removed jobs into retired_jobs column by column (SELECT *).
ALTER TABLE jobs ADD COLUMN quarantine text;
ALTER TABLE retired_jobs ADD COLUMN quarantine text;
`,
  },
  {
    version: 6,
    name: 'job ids in code point order',
    sql: `
-- getJobs sorts and pages by id in the "C" collation (code point order: ORDER BY id COLLATE "C", keyset pages
-- id > $n COLLATE "C"), which the primary key, built in the database's default collation, cannot serve: every
-- page by id (the API's and the dashboard's default) scanned and sorted the whole table, about 70-90 ms for
-- 100,000 jobs. The key in the "C" collation serves them. The columns that hold a job's id elsewhere move to
-- "C" too: a comparison of runs.job_id with jobs.id is made in "C" (the default collation yields to any
-- other), which an index in the default collation cannot serve (the count of a job's active runs would scan
-- every active run for each job fired). Equality is the same in every deterministic collation, so lookups by
-- id are unchanged. This rebuilds the indexes of these tables once.
ALTER TABLE jobs ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE retired_jobs ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE runs ALTER COLUMN job_id TYPE text COLLATE "C";
`,
  },
  {
    version: 7,
    name: 'queued runs',
    sql: `
-- A fire time of a backlog that waits for the earlier runs of its job (PlannedRun.queued). A constant default:
-- no rewrite of the table.
ALTER TABLE runs ADD COLUMN queued boolean NOT NULL DEFAULT false;
`,
  },
];
