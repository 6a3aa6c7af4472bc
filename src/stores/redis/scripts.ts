/**
 * The Lua scripts of the Redis store. Each runs atomically on the server (nothing else runs meanwhile) and
 * reads the time with `TIME` (Redis 7 replicates the effects of a script, not the script, so that is allowed).
 * Every script takes the key prefix as `ARGV[1]` and builds its keys from it (see `docs/stores.md` for the
 * layout); arguments that are lists come as JSON (`cjson`). Times are epoch milliseconds, kept as decimal
 * strings in hashes (a Lua number formats large values in exponent form).
 * @module
 */
import { createHash } from 'node:crypto';
import { MAX_VERSION } from '../common.js';

/** A script and its SHA-1 (for `EVALSHA`). */
export interface Script {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

const PRELUDE = `
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fmt(n) return string.format('%.0f', n) end
local function hash(key) return redis.call('HGETALL', key) end
-- A command on a key that may hold another type (written by hand under the prefix): nil instead of failing
-- the whole script (one such key must not stop every job of the prefix).
local function safe(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then return nil end
  return r
end
-- Whether the job hash of id exists (of the hash type: another type, written by hand, is no job), given
-- the fields f read from it (HMGET, read with safe): the first of them, when present, answers without a
-- second call.
local function job_exists(id, f)
  if not f then return false end
  if f[1] then return true end
  local n = safe('HLEN', P .. 'job:' .. id)
  return n ~= nil and n > 0
end
-- The member of job id in the name index (\`names\`, sorted by member, byte-wise): its name with each NUL byte
-- written as NUL 255, then NUL 1, then the id. Byte-wise order of members is the order of (name, id) (UTF-8
-- bytes sort as code points): a name ending first meets NUL 1, below any byte of a longer name or the NUL 255
-- of its NUL. (A job without a name field, written by hand, is indexed under the name ''.)
local function name_member(name, id) return (string.gsub(name or '', '%z', '\\0\\255')) .. '\\0\\1' .. id end
-- Moves job id in the name index from name old (nil: not indexed) to name new (nil: none, the job is gone).
local function index_name(id, old, new)
  if old and old ~= new then redis.call('ZREM', P .. 'names', name_member(old, id)) end
  if new then redis.call('ZADD', P .. 'names', 0, name_member(new, id)) end
end
local FINAL = { succeeded = true, failed = true, ['timed-out'] = true, missed = true, skipped = true,
  abandoned = true, cancelled = true }
-- Keeps the job in the due index exactly while it is not paused and has a next run time, in the paused set
-- exactly while its paused field is not '0' (what COUNT_JOBS and JOB_INDEX read as paused), and in the held
-- index (for LIST_JOBS) exactly while it is paused and has a next run time. due_only: the job's paused field
-- did not change (the firing step's advance of an unpaused job).
local function reindex(id, due_only)
  local f = redis.call('HMGET', P .. 'job:' .. id, 'paused', 'next_run_time')
  local n = tonumber(f[2])
  if f[1] == '0' and n then redis.call('ZADD', P .. 'due', n, id) else redis.call('ZREM', P .. 'due', id) end
  if due_only then return end
  if f[1] ~= '0' and n then redis.call('ZADD', P .. 'held', n, id) else redis.call('ZREM', P .. 'held', id) end
  if f[1] == '0' then redis.call('SREM', P .. 'paused', id) else redis.call('SADD', P .. 'paused', id) end
end
-- Why a key of job id's runs cannot be written (it holds another type, written by hand), or nil.
local function foreign_key(id)
  for _, k in ipairs({ { 'active:', 'set' }, { 'job-runs:', 'zset' } }) do
    local kind = redis.call('TYPE', P .. k[1] .. id).ok
    if kind ~= 'none' and kind ~= k[2] then
      return 'the key ' .. P .. k[1] .. id .. ' holds a ' .. kind .. ', not a ' .. k[2]
    end
  end
  return nil
end
-- Writes the fields of a JSON object into a hash; a value false deletes the field.
local function write(key, fields)
  local set, del = {}, {}
  for k, v in pairs(fields) do
    if v == false then del[#del + 1] = k else set[#set + 1] = k; set[#set + 1] = v end
  end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  if #set > 0 then redis.call('HSET', key, unpack(set)) end
end
local function next_version(v)
  local n = tonumber(v)
  if n == nil or n >= ${MAX_VERSION} then return '1' end
  return fmt(n + 1)
end
-- The job with this id, live or else its retired copy (a job its own plan removed), or an empty list.
local function job_or_retired(id)
  local h = hash(P .. 'job:' .. id)
  if #h == 0 then h = hash(P .. 'retired:' .. id) end
  return h
end
-- Inserts a new run record and indexes it.
-- queued (a true value): waits for the earlier runs of its job (see ACQUIRE).
local function insert_run(id, job_id, task_id, sft, not_before, status, manual, t, queued)
  local rk = P .. 'run:' .. id
  redis.call('HSET', rk, 'id', id, 'job_id', job_id, 'task_id', task_id, 'scheduled_fire_time', sft,
    'not_before', not_before, 'status', status, 'manual', manual, 'attempt', '0', 'created_at', t)
  if status ~= 'pending' then redis.call('HSET', rk, 'finished_at', t)
  elseif queued then redis.call('HSET', rk, 'queued', '1') end
  redis.call('ZADD', P .. 'runs', sft, id)
  redis.call('ZADD', P .. 'job-runs:' .. job_id, sft, id)
  if status == 'pending' then
    redis.call('ZADD', P .. 'pending', not_before, id)
    redis.call('SADD', P .. 'active:' .. job_id, id)
  end
end
local function delete_run(id, job_id)
  redis.call('DEL', P .. 'run:' .. id)
  redis.call('ZREM', P .. 'runs', id)
  redis.call('ZREM', P .. 'job-runs:' .. job_id, id)
end
`;

function script(name: string, body: string): Script {
  const lua = PRELUDE + body;
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Marks the key space as this store's format (`ARGV[2]`), refusing a newer one. Returns the stored format.
 */
export const START = script(
  'start',
  `
redis.call('SET', P .. 'format', ARGV[2], 'NX')
-- The paused set (see reindex) of a key space written before the store kept one: built once, from the hashes.
local format = tonumber(redis.call('GET', P .. 'format')) or 0
if redis.call('EXISTS', P .. 'paused-indexed') == 0 and format <= tonumber(ARGV[2]) then
  redis.call('DEL', P .. 'paused')
  for _, id in ipairs(redis.call('ZRANGE', P .. 'jobs', 0, -1)) do
    local f = safe('HMGET', P .. 'job:' .. id, 'id', 'paused')
    if job_exists(id, f) and f[2] ~= '0' then redis.call('SADD', P .. 'paused', id) end
  end
  redis.call('SET', P .. 'paused-indexed', '1')
end
-- The name index (see name_member) and the held index (see reindex) likewise.
if redis.call('EXISTS', P .. 'listing-indexed') == 0 and format <= tonumber(ARGV[2]) then
  redis.call('DEL', P .. 'names', P .. 'held')
  for _, id in ipairs(redis.call('ZRANGE', P .. 'jobs', 0, -1)) do
    local f = safe('HMGET', P .. 'job:' .. id, 'id', 'name', 'paused', 'next_run_time')
    if job_exists(id, f) then
      index_name(id, nil, f[2] or '')
      local n = tonumber(f[4])
      if f[3] ~= '0' and n then redis.call('ZADD', P .. 'held', n, id) end
    end
  end
  redis.call('SET', P .. 'listing-indexed', '1')
end
return redis.call('GET', P .. 'format')
`,
);

/**
 * Adds or replaces a job. `ARGV[2]` id, `ARGV[3]` `add` (only when absent) or `cas` (only while its version
 * is `ARGV[4]`), `ARGV[5]` the fields (JSON). Returns `{1}` when written, else `{0, the stored hash}` (empty
 * when there is no job).
 */
export const PUT_JOB = script(
  'put-job',
  `
local id = ARGV[2]
local key = P .. 'job:' .. id
if ARGV[3] == 'add' then
  if redis.call('EXISTS', key) == 1 then return { 0, hash(key) } end
elseif redis.call('EXISTS', key) == 0 or (redis.call('HGET', key, 'version') or '') ~= ARGV[4] then
  -- (a hash without a version, written by hand, compares as '': the caller sends what it read)
  return { 0, hash(key) }
end
local old = redis.call('HGET', key, 'name')
if old == false then old = nil end
write(key, cjson.decode(ARGV[5]))
redis.call('ZADD', P .. 'jobs', 0, id)
reindex(id)
index_name(id, old, redis.call('HGET', key, 'name') or '')
return { 1 }
`,
);

/**
 * Applies changes to a job. `ARGV[2]` id, `ARGV[3]` expected version (`''`: any), `ARGV[4]` the changed fields
 * (JSON), `ARGV[5]` `1` when `paused` changes (which ends a quarantine). Returns `{'ok', hash}`,
 * `{'missing'}` or `{'conflict', version}`.
 */
export const UPDATE_JOB = script(
  'update-job',
  `
local id = ARGV[2]
local key = P .. 'job:' .. id
if redis.call('EXISTS', key) == 0 then return { 'missing' } end
-- (a hash without a version, written by hand, reads as '': it can still be paused, repaired or removed)
local v = redis.call('HGET', key, 'version') or ''
if ARGV[3] ~= '' and v ~= ARGV[3] then return { 'conflict', v } end
local old = redis.call('HGET', key, 'name') or ''
write(key, cjson.decode(ARGV[4]))
index_name(id, old, redis.call('HGET', key, 'name') or '')
if ARGV[5] == '1' then redis.call('HDEL', key, 'quarantine') end
redis.call('HSET', key, 'version', next_version(v), 'updated_at', fmt(now_ms()))
reindex(id)
return { 'ok', hash(key) }
`,
);

/**
 * Removes jobs: `ARGV[2]` a JSON list of ids, or `*` for all. Their pending runs become `cancelled`. Returns
 * the removed jobs' hashes. `ARGV[3]` (one id only; `''`: any): the version the job must have, else nothing
 * is removed and the script returns `{'conflict', the stored version}`.
 */
export const REMOVE_JOBS = script(
  'remove-jobs',
  `
local ids
if ARGV[2] == '*' then ids = redis.call('ZRANGE', P .. 'jobs', 0, -1) else ids = cjson.decode(ARGV[2]) end
local t = fmt(now_ms())
local out = {}
if ARGV[3] and ARGV[3] ~= '' then
  -- (no job hash: nothing to remove, as without a version; a hash without a version, written by hand,
  -- compares as '')
  local key = P .. 'job:' .. ids[1]
  local n = safe('HLEN', key)
  if n and n > 0 then
    local v = redis.call('HGET', key, 'version') or ''
    if v ~= ARGV[3] then return { 'conflict', v } end
  end
end
for _, id in ipairs(ids) do
  local key = P .. 'job:' .. id
  -- (a key of another type, written by hand, is no job: not found, not a failure of the whole call)
  local h = safe('HGETALL', key) or {}
  if #h > 0 then
    index_name(id, redis.call('HGET', key, 'name') or '', nil)
    redis.call('DEL', key, P .. 'claim:' .. id)
    redis.call('ZREM', P .. 'jobs', id)
    redis.call('ZREM', P .. 'due', id)
    redis.call('ZREM', P .. 'held', id)
    redis.call('SREM', P .. 'paused', id)
    for _, rid in ipairs(redis.call('SMEMBERS', P .. 'active:' .. id)) do
      local rk = P .. 'run:' .. rid
      if redis.call('HGET', rk, 'status') == 'pending' then
        redis.call('HSET', rk, 'status', 'cancelled', 'finished_at', t)
        redis.call('ZREM', P .. 'pending', rid)
        redis.call('SREM', P .. 'active:' .. id, rid)
      end
    end
    out[#out + 1] = h
  else
    -- An index entry without its job hash (written by hand): no job to remove, the entry is dropped.
    redis.call('ZREM', P .. 'jobs', id)
    redis.call('ZREM', P .. 'due', id)
    redis.call('ZREM', P .. 'held', id)
    redis.call('SREM', P .. 'paused', id)
  end
end
return out
`,
);

/**
 * The claim of the firing step: up to `ARGV[2]` due jobs (next run time <= the server's time, not paused),
 * earliest first, skipping jobs another claimer holds; each gets the claim token `ARGV[3]` for `ARGV[4]` ms. A
 * claim held by one of the tokens in `ARGV[5]` (JSON list: the caller's own failed steps) counts as free.
 * Returns `{now, more (0/1), job hashes, active run counts, job ids}`.
 */
export const CLAIM = script(
  'claim',
  `
local limit = tonumber(ARGV[2])
local stale = {}
for _, t in ipairs(cjson.decode(ARGV[5])) do stale[t] = true end
local now = now_ms()
local jobs, active, claimed = {}, {}, {}
local more = 0
local offset = 0
while more == 0 do
  local ids = redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', now, 'LIMIT', offset, 256)
  if #ids == 0 then break end
  offset = offset + #ids
  for _, id in ipairs(ids) do
    local holder = safe('GET', P .. 'claim:' .. id)
    local free = not holder or stale[holder]
    local paused = free and safe('HGET', P .. 'job:' .. id, 'paused')
    if free and paused ~= '0' then
      -- An entry the due index should not hold: its job hash is gone (deleted or evicted by hand) or of
      -- another type, or its paused field was edited by hand. Left there, its past score would make every
      -- wake-up find a job due and fire nothing, slowing every job of the prefix to the idle poll. The
      -- entry leaves the due index; a job that is one goes to the paused indexes (see reindex).
      if job_exists(id, safe('HMGET', P .. 'job:' .. id, 'id')) then reindex(id) else
        redis.call('ZREM', P .. 'due', id)
      end
      offset = offset - 1
    elseif free then
      if #jobs == limit then more = 1; break end
      redis.call('SET', P .. 'claim:' .. id, ARGV[3], 'PX', ARGV[4])
      jobs[#jobs + 1] = hash(P .. 'job:' .. id)
      active[#active + 1] = safe('SCARD', P .. 'active:' .. id) or 0
      claimed[#claimed + 1] = id
    end
  end
end
return { fmt(now), more, jobs, active, claimed }
`,
);

/**
 * The apply of the firing step. `ARGV[2]` the claim token, `ARGV[3]` the claim's time, `ARGV[4]` the plans
 * (JSON: `{i, v, n?, a?, q?, runs: [{r, s, b, st, k, e, w?}]}`, see `RedisStore.fireDueJobs`), `ARGV[5]` the
 * channel and `ARGV[6]` the message published when pending runs were created.
 *
 * Per job, only while it still holds the claim and its version is the one claimed (compare-and-set): inserts
 * the runs unique on (job, scheduled fire time, not manual), a pending run that no longer fits `maxInstances`
 * (counting the active runs now) stored as `skipped` unless queued (`w`); advances, pauses (quarantine) or removes (into a
 * retired copy) the job; increments its version. A job one of whose run keys (`active:<id>`, `job-runs:<id>`)
 * holds another type (written by hand) is quarantined instead, with nothing else written, and left out of the
 * jobs applied: the other jobs fire. Every claim of the token is released.
 * Returns `{ids of the jobs applied, ids of the runs inserted, ids of the runs stored as skipped}`.
 */
export const APPLY = script(
  'apply',
  `
local token, t = ARGV[2], ARGV[3]
local ok, ins, skipped = {}, {}, {}
local created = false
for _, j in ipairs(cjson.decode(ARGV[4])) do
  local id = j.i
  local key = P .. 'job:' .. id
  local ck = P .. 'claim:' .. id
  if redis.call('GET', ck) == token then
    -- (a hash without a version, written by hand, compares as '': its quarantine still applies)
    if (redis.call('HGET', key, 'version') or '') == j.v then
      local foreign = foreign_key(id)
      if foreign then
        -- A key of the job's runs holding another type (written by hand): its runs could not be indexed.
        -- The job is quarantined (paused, kept, with its next run time) and left out of the jobs applied.
        redis.call('HSET', key, 'paused', '1', 'quarantine', foreign, 'version', next_version(j.v), 'updated_at', t)
        reindex(id)
      else
        local f = redis.call('HMGET', key, 'task_id', 'max_instances')
        local max = tonumber(f[2]) or 1
        local n = redis.call('SCARD', P .. 'active:' .. id)
        for _, r in ipairs(j.runs) do
          local dup = false
          for _, other in ipairs(redis.call('ZRANGEBYSCORE', P .. 'job-runs:' .. id, r.s, r.s)) do
            if redis.call('HGET', P .. 'run:' .. other, 'manual') == '0' then dup = true; break end
          end
          if not dup then
            local final = r.st
            if final == 'pending' and not r.w and n > r.e and n + r.k > max then final = 'skipped' end
            insert_run(r.r, id, f[1], r.s, r.b, final, '0', t, r.w)
            if final == 'pending' then created = true end
            ins[#ins + 1] = r.r
            if final ~= r.st then skipped[#skipped + 1] = r.r end
          end
        end
        if j.a == 'r' then
          local h = hash(key)
          redis.call('DEL', P .. 'retired:' .. id)
          redis.call('HSET', P .. 'retired:' .. id, unpack(h))
          redis.call('SADD', P .. 'retired', id)
          index_name(id, redis.call('HGET', key, 'name') or '', nil)
          redis.call('DEL', key)
          redis.call('ZREM', P .. 'jobs', id)
          redis.call('ZREM', P .. 'due', id)
          redis.call('ZREM', P .. 'held', id)
          redis.call('SREM', P .. 'paused', id)
        else
          if j.a == 'q' then
            redis.call('HSET', key, 'paused', '1', 'quarantine', j.q)
            redis.call('HDEL', key, 'next_run_time')
          elseif j.n then
            redis.call('HSET', key, 'next_run_time', j.n)
          else
            redis.call('HDEL', key, 'next_run_time')
          end
          redis.call('HSET', key, 'version', next_version(j.v), 'updated_at', t)
          -- An advance leaves paused as it was (a change would have failed the version check): the due
          -- index alone; a quarantine pauses the job.
          reindex(id, j.a ~= 'q')
        end
        ok[#ok + 1] = id
      end
    end
    redis.call('DEL', ck)
  end
end
if created then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return { ok, ins, skipped }
`,
);

/**
 * A manual run of job `ARGV[2]` with id `ARGV[3]` at the server's time: `skipped` when the job has
 * `maxInstances` active runs. `ARGV[4]`/`ARGV[5]`: channel and message. Returns `{1, run hash}` or `{0}`
 * (no such job).
 */
export const MANUAL_RUN = script(
  'manual-run',
  `
local id = ARGV[2]
local f = redis.call('HMGET', P .. 'job:' .. id, 'task_id', 'max_instances')
if not f[1] then return { 0 } end
local t = fmt(now_ms())
local n = redis.call('SCARD', P .. 'active:' .. id)
local status = 'pending'
if n >= (tonumber(f[2]) or 1) then status = 'skipped' end
insert_run(ARGV[3], id, f[1], t, t, status, '1', t)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return { 1, hash(P .. 'run:' .. ARGV[3]) }
`,
);

/**
 * Leases up to `ARGV[3]` due pending runs (not before <= the server's time, oldest first) of the tasks in
 * `ARGV[5]` (JSON list; `''`: all) to owner `ARGV[2]` for `ARGV[4]` ms, passing over a queued run (field
 * `queued` = 1) while a run of its job with an earlier fire time is active. Returns `{run hashes, job hashes,
 * job ids}` (each job live, or else retired, once; the ids of the job hashes' keys).
 */
export const ACQUIRE = script(
  'acquire',
  `
local owner, limit, lease = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local tasks = nil
if ARGV[5] ~= '' then
  tasks = {}
  for _, t in ipairs(cjson.decode(ARGV[5])) do tasks[t] = true end
end
local now = now_ms()
local t, until_ = fmt(now), fmt(now + lease)
local runs, jobs, seen, job_ids = {}, {}, {}, {}
-- A queued run waits while a run of its job with an earlier fire time is pending or running.
local function waits_behind(job_id, rid, sft)
  local s = tonumber(sft)
  for _, other in ipairs(redis.call('SMEMBERS', P .. 'active:' .. job_id)) do
    if other ~= rid then
      local o = tonumber(redis.call('HGET', P .. 'run:' .. other, 'scheduled_fire_time'))
      if o and s and o < s then return true end
    end
  end
  return false
end
local offset = 0
while #runs < limit do
  local ids = redis.call('ZRANGEBYSCORE', P .. 'pending', '-inf', now, 'LIMIT', offset, 256)
  if #ids == 0 then break end
  local taken = 0
  for _, rid in ipairs(ids) do
    local rk = P .. 'run:' .. rid
    local f = redis.call('HMGET', rk, 'status', 'task_id', 'job_id', 'queued', 'scheduled_fire_time')
    if f[1] == 'pending' and (tasks == nil or tasks[f[2]]) and not (f[4] == '1' and waits_behind(f[3], rid, f[5])) then
      redis.call('HINCRBY', rk, 'attempt', 1)
      redis.call('HSET', rk, 'status', 'running', 'owner', owner, 'started_at', t, 'lease_expires_at', until_)
      redis.call('ZREM', P .. 'pending', rid)
      redis.call('ZADD', P .. 'running', until_, rid)
      taken = taken + 1
      runs[#runs + 1] = hash(rk)
      if not seen[f[3]] then
        seen[f[3]] = true
        local h = job_or_retired(f[3])
        if #h > 0 then jobs[#jobs + 1] = h; job_ids[#job_ids + 1] = f[3] end
      end
      if #runs >= limit then break end
    end
  end
  offset = offset + #ids - taken
end
return { runs, jobs, job_ids }
`,
);

/**
 * Renews the leases of `ARGV[4]` (JSON `[{id, a}]`) held by owner `ARGV[2]` (still `running` with that
 * attempt) to the server's time plus `ARGV[3]` ms. Returns the ids renewed.
 */
export const HEARTBEAT = script(
  'heartbeat',
  `
local owner = ARGV[2]
local until_ = fmt(now_ms() + tonumber(ARGV[3]))
local out = {}
for _, h in ipairs(cjson.decode(ARGV[4])) do
  local rk = P .. 'run:' .. h.id
  local f = redis.call('HMGET', rk, 'status', 'owner', 'attempt')
  if f[1] == 'running' and f[2] == owner and tonumber(f[3]) == h.a then
    redis.call('HSET', rk, 'lease_expires_at', until_)
    redis.call('ZADD', P .. 'running', until_, h.id)
    out[#out + 1] = h.id
  end
end
return out
`,
);

/**
 * Records outcomes of owner `ARGV[2]`'s runs, `ARGV[3]` (JSON `[{id, a, st, err?, res?, retry?}]`), each only
 * while the run is `running` under that owner and attempt: with `retry` (a time) the run is `pending` again
 * from then; otherwise it ends with status `st` at the server's time. `ARGV[4]`/`ARGV[5]`: channel and message
 * published when a run went back to pending. Returns, per item, the run's job id or `''` (fenced out).
 */
export const FINISH = script(
  'finish',
  `
local owner = ARGV[2]
local t = fmt(now_ms())
local out = {}
local requeued = false
for i, x in ipairs(cjson.decode(ARGV[3])) do
  local rk = P .. 'run:' .. x.id
  local f = redis.call('HMGET', rk, 'status', 'owner', 'attempt', 'job_id')
  out[i] = ''
  if f[1] == 'running' and f[2] == owner and tonumber(f[3]) == x.a then
    redis.call('ZREM', P .. 'running', x.id)
    if x.err then redis.call('HSET', rk, 'error', x.err) else redis.call('HDEL', rk, 'error') end
    if x.retry then
      redis.call('HSET', rk, 'status', 'pending', 'not_before', x.retry)
      redis.call('HDEL', rk, 'owner', 'lease_expires_at')
      redis.call('ZADD', P .. 'pending', x.retry, x.id)
      requeued = true
    else
      redis.call('HSET', rk, 'status', x.st, 'finished_at', t)
      redis.call('HDEL', rk, 'lease_expires_at')
      if x.res then redis.call('HSET', rk, 'result', x.res) else redis.call('HDEL', rk, 'result') end
      safe('SREM', P .. 'active:' .. f[4], x.id)
    end
    out[i] = f[4]
  end
end
if requeued then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return out
`,
);

/**
 * Reads up to `ARGV[2]` `running` runs whose lease ended before the server's time, with their jobs (live or
 * retired). Returns `{run hashes, job hashes, job ids}` (the ids of the job hashes' keys).
 */
export const EXPIRED = script(
  'expired',
  `
local now = now_ms()
local runs, jobs, seen, job_ids = {}, {}, {}, {}
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'running', '-inf', '(' .. fmt(now), 'LIMIT', 0, tonumber(ARGV[2]))) do
  local h = hash(P .. 'run:' .. rid)
  if #h == 0 then
    -- An index entry whose run hash is gone (deleted by hand, evicted): its past score would make every
    -- wake-up find a lease to reap and reap nothing.
    redis.call('ZREM', P .. 'running', rid)
  else
    runs[#runs + 1] = h
    local job_id = redis.call('HGET', P .. 'run:' .. rid, 'job_id')
    if not seen[job_id] then
      seen[job_id] = true
      local j = job_or_retired(job_id)
      if #j > 0 then jobs[#jobs + 1] = j; job_ids[#job_ids + 1] = job_id end
    end
  end
end
return { runs, jobs, job_ids }
`,
);

/**
 * Reaps runs read by {@link EXPIRED}: `ARGV[2]` (JSON `[{id, a, o, at?}]`), each only while it is still
 * `running` under that attempt and owner with its lease ended before the server's time (so a heartbeat or
 * another reaper in between wins). With `at` the run is `pending` again from then (attempt kept, owner and
 * lease cleared); without, `abandoned`. `ARGV[3]`/`ARGV[4]`: channel and message when a run was requeued.
 * Returns the reaped runs' hashes.
 */
export const REAP = script(
  'reap',
  `
local now = now_ms()
local t = fmt(now)
local out = {}
local requeued = false
for _, x in ipairs(cjson.decode(ARGV[2])) do
  local rk = P .. 'run:' .. x.id
  local f = redis.call('HMGET', rk, 'status', 'attempt', 'owner', 'lease_expires_at', 'job_id')
  if f[1] == 'running' and tonumber(f[2]) == x.a and f[3] == x.o and tonumber(f[4]) and tonumber(f[4]) < now then
    redis.call('ZREM', P .. 'running', x.id)
    if x.at then
      redis.call('HSET', rk, 'status', 'pending', 'not_before', x.at)
      redis.call('HDEL', rk, 'owner', 'lease_expires_at')
      redis.call('ZADD', P .. 'pending', x.at, x.id)
      requeued = true
    else
      redis.call('HSET', rk, 'status', 'abandoned', 'finished_at', t)
      redis.call('HDEL', rk, 'lease_expires_at')
      safe('SREM', P .. 'active:' .. f[5], x.id)
    end
    out[#out + 1] = hash(rk)
  end
end
if requeued then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return out
`,
);

/**
 * Gives abandoned run `ARGV[2]` (attempt `ARGV[3]`) another attempt from `ARGV[4]`. Returns its job id, or
 * `''` when it is not abandoned with that attempt.
 */
export const REQUEUE = script(
  'requeue',
  `
local rk = P .. 'run:' .. ARGV[2]
local f = redis.call('HMGET', rk, 'status', 'attempt', 'job_id')
if f[1] ~= 'abandoned' or f[2] ~= ARGV[3] then return '' end
redis.call('HSET', rk, 'status', 'pending', 'not_before', ARGV[4])
redis.call('HDEL', rk, 'owner', 'lease_expires_at', 'finished_at')
redis.call('ZADD', P .. 'pending', ARGV[4], ARGV[2])
redis.call('SADD', P .. 'active:' .. f[3], ARGV[2])
return f[3]
`,
);

/**
 * Run history: runs of job `ARGV[2]` (`''`: all) with a status in `ARGV[3]` (JSON list; `''`: any), scheduled
 * fire time in [`ARGV[4]`, `ARGV[5]`) (`-inf`/`+inf`: unbounded), newest first, skipping `ARGV[6]`, at most
 * `ARGV[7]`. Returns the run hashes.
 */
export const GET_RUNS = script(
  'get-runs',
  `
local index = P .. 'runs'
if ARGV[2] ~= '' then index = P .. 'job-runs:' .. ARGV[2] end
-- A job's index holding another type (written by hand; its job is quarantined when it comes due): no runs.
if redis.call('TYPE', index).ok ~= 'zset' then return {} end
local statuses = nil
if ARGV[3] ~= '' then
  statuses = {}
  for _, s in ipairs(cjson.decode(ARGV[3])) do statuses[s] = true end
end
local max = ARGV[5]
if max ~= '+inf' then max = '(' .. max end
local skip, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local out = {}
if limit <= 0 then return out end
-- Whether run rid is listed: an index entry whose run hash is gone (deleted or evicted) or is not a hash is no
-- run, neither listed nor counted by the offset (a page of limit runs is full while runs remain: a caller asking
-- for one run more than its page would take a short page for the last one).
local function listed(rid)
  if statuses == nil then
    local n = safe('HLEN', P .. 'run:' .. rid)
    return n ~= nil and n > 0
  end
  local st = safe('HGET', P .. 'run:' .. rid, 'status')
  return st and statuses[st]
end
-- (runs sharing a fire time come by id, descending: ZREVRANGEBYSCORE returns equal scores in reverse byte order)
local offset = 0
while #out < limit do
  local ids = redis.call('ZREVRANGEBYSCORE', index, max, ARGV[4], 'LIMIT', offset, 512)
  if #ids == 0 then break end
  offset = offset + #ids
  for _, rid in ipairs(ids) do
    if listed(rid) then
      if skip > 0 then skip = skip - 1 else
        out[#out + 1] = hash(P .. 'run:' .. rid)
        if #out >= limit then break end
      end
    end
  end
end
return out
`,
);

/**
 * The summary of the jobs `getJobs` filters and sorts: `ARGV[2]` a JSON list of ids, \`paused\` (the members of
 * the paused set) or `''` (all). Returns, per existing job, `{id, name, next_run_time, paused, task_id}`.
 */
export const JOB_INDEX = script(
  'job-index',
  `
local ids
if ARGV[2] == '' then ids = redis.call('ZRANGE', P .. 'jobs', 0, -1)
elseif ARGV[2] == 'paused' then ids = redis.call('SMEMBERS', P .. 'paused')
else ids = cjson.decode(ARGV[2]) end
local out = {}
for _, id in ipairs(ids) do
  local f = safe('HMGET', P .. 'job:' .. id, 'id', 'name', 'next_run_time', 'paused', 'task_id')
  -- (a hash without its id field, edited by hand, is listed: as undecodable, under its key's id)
  if job_exists(id, f) then out[#out + 1] = { id, f[2] or '', f[3] or '', f[4] or '', f[5] or '' } end
end
return out
`,
);

/**
 * A page of jobs for `getJobs`, walking an index in the order asked, so that a page costs what it skips and
 * returns, not what the store holds. `ARGV[2]` the order: `id` (the job index), `name` (the name index) or
 * `nextRunTime` (the due index, merged with the paused jobs that have a next run time, then the jobs without
 * one by id); `ARGV[3]` `0` for unpaused jobs only, `1` for paused jobs only (`''`: any); `ARGV[4]` `=` and a
 * task id (`''`: any task); `ARGV[5]` `>` and an id: only ids after it (`''`: all); `ARGV[6]` offset; `ARGV[7]`
 * limit (`-1`: none). Only jobs whose hash exists are listed (an index entry left without its hash, or with a
 * key of another type, is passed over), each once. Returns `{id, flat hash}` per job of the page, the hashes
 * read in the same script (one snapshot: the page's jobs are the ones the walk chose, as they were).
 *
 * Paused jobs only: walked as the others (the paused set tells which entries to read) when the walk is
 * expected to be shorter than the paused set, that is when paused jobs are dense enough in the index;
 * otherwise the script returns `0` and the caller reads the whole paused set with `JOB_INDEX`.
 */
export const LIST_JOBS = script(
  'list-jobs',
  `
local unpaused = ARGV[3] == '0'
local paused = ARGV[3] == '1'
local task = nil
if ARGV[4] ~= '' then task = string.sub(ARGV[4], 2) end
local after = nil
if ARGV[5] ~= '' then after = string.sub(ARGV[5], 2) end
local skip, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local out = {}
if limit == 0 then return out end
if paused then
  local p = redis.call('SCARD', P .. 'paused')
  if p == 0 then return out end
  -- A walk reads about (offset + limit) * jobs / paused entries; the paused set, all of its members.
  if limit < 0 or (skip + limit) * redis.call('ZCARD', P .. 'jobs') > p * p then return 0 end
end
-- Whether a sorts before b, byte by byte (Lua's < on strings follows the server's locale).
local function before(a, b)
  for k = 1, math.min(#a, #b) do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- Takes job id (found in the name index under member, when given) onto the page if it passes the filters;
-- true when the page is full.
local function offer(id, member)
  if after and not before(after, id) then return false end
  if paused and redis.call('SISMEMBER', P .. 'paused', id) == 0 then return false end
  local f = safe('HMGET', P .. 'job:' .. id, 'id', 'paused', 'task_id', 'name')
  if not job_exists(id, f) then return false end
  if member and name_member(f[4], id) ~= member then return false end
  if unpaused and f[2] ~= '0' then return false end
  if paused and f[2] == '0' then return false end
  if task and f[3] ~= task then return false end
  if skip > 0 then skip = skip - 1; return false end
  out[#out + 1] = id
  return limit > 0 and #out >= limit
end
-- Calls each on the members of a sorted set of score 0 from min on, in order, until it returns true.
local function walk(key, min, each)
  while true do
    local ms = redis.call('ZRANGEBYLEX', key, min, '+', 'LIMIT', 0, 512)
    for _, m in ipairs(ms) do if each(m) then return true end end
    if #ms < 512 then return false end
    min = '(' .. ms[#ms]
  end
end
if ARGV[2] == 'id' then
  local min = '-'
  if after then min = '(' .. after; after = nil end
  walk(P .. 'jobs', min, function(id) return offer(id) end)
elseif ARGV[2] == 'name' then
  walk(P .. 'names', '-', function(m)
    local at = string.find(m, '\\0\\1', 1, true)
    return at ~= nil and offer(string.sub(m, at + 2), m)
  end)
else
  -- Paused jobs with a next run time (pausing clears it, but a store's caller may set one), in order.
  local lp = {}
  if not unpaused then
    local held = redis.call('ZRANGE', P .. 'held', 0, -1, 'WITHSCORES')
    for k = 1, #held, 2 do lp[#lp + 1] = { tonumber(held[k + 1]), held[k] } end
  end
  local i, rank, done = 1, 0, false
  -- (the due index holds unpaused jobs only)
  while not done and not paused do
    local chunk = redis.call('ZRANGE', P .. 'due', rank, rank + 511, 'WITHSCORES')
    if #chunk == 0 then break end
    rank = rank + #chunk / 2
    for k = 1, #chunk, 2 do
      local id, n = chunk[k], tonumber(chunk[k + 1])
      while lp[i] and (lp[i][1] < n or (lp[i][1] == n and before(lp[i][2], id))) do
        done = offer(lp[i][2]); i = i + 1
        if done then break end
      end
      done = done or offer(id)
      if done then break end
    end
  end
  while not done and lp[i] do done = offer(lp[i][2]); i = i + 1 end
  -- Then the jobs without a next run time, by id.
  if not done then
    walk(P .. 'jobs', '-', function(id)
      if redis.call('ZSCORE', P .. 'due', id) or redis.call('ZSCORE', P .. 'held', id) then return false end
      return offer(id)
    end)
  end
end
-- The page's hashes, read in this script: read afterwards, a job removed, paused or renamed meanwhile would
-- leave the page short (a caller asking for one job more than its page would take it for the last page) or
-- holding a job the filter or the order no longer puts there.
local page = {}
for k, id in ipairs(out) do page[k] = { id, hash(P .. 'job:' .. id) } end
return page
`,
);

/**
 * Counts jobs of task `ARGV[2]` (`''`: any) whose `paused` is `ARGV[3]` (`1`/`0`; `''`: any).
 *
 * Without a task, from the indexes alone, in constant time whatever the number of jobs: the ids of the job
 * index, of which those in the paused set (see `reindex`) are paused. The scripts keep both exact; a key
 * written or deleted by hand (an index entry without its hash) counts until a script next writes the job.
 * (Reading every hash took about 0.6 s for 100,000 jobs, during which Redis serves nobody else, and
 * `/metrics` counts twice per scrape.)
 *
 * With a task: the jobs `getJobs` lists (an id in the index with a job hash), one read of each hash.
 */
export const COUNT_JOBS = script(
  'count-jobs',
  `
if ARGV[2] == '' then
  local all = redis.call('ZCARD', P .. 'jobs')
  if ARGV[3] == '' then return all end
  local paused = redis.call('SCARD', P .. 'paused')
  if ARGV[3] == '1' then return paused end
  return math.max(0, all - paused)
end
local n = 0
for _, id in ipairs(redis.call('ZRANGE', P .. 'jobs', 0, -1)) do
  local f = safe('HMGET', P .. 'job:' .. id, 'id', 'task_id', 'paused')
  if job_exists(id, f) then
    local paused = '0'
    if f[3] ~= '0' then paused = '1' end
    if (ARGV[2] == '' or f[2] == ARGV[2]) and (ARGV[3] == '' or paused == ARGV[3]) then n = n + 1 end
  end
end
return n
`,
);

/**
 * The earliest of: the first due time of an unpaused job, the first not-before of a pending run of the tasks
 * in `ARGV[2]` (JSON list; `''`: any), the first lease end of a running run. `''` when there is none.
 */
export const WAKE = script(
  'wake',
  `
local best = nil
local function consider(s) local n = tonumber(s); if n and (best == nil or n < best) then best = n end end
local d = redis.call('ZRANGE', P .. 'due', 0, 0, 'WITHSCORES')
if d[2] then consider(d[2]) end
local r = redis.call('ZRANGE', P .. 'running', 0, 0, 'WITHSCORES')
if r[2] then consider(r[2]) end
if ARGV[2] == '' then
  local p = redis.call('ZRANGE', P .. 'pending', 0, 0, 'WITHSCORES')
  if p[2] then consider(p[2]) end
else
  local tasks = {}
  for _, t in ipairs(cjson.decode(ARGV[2])) do tasks[t] = true end
  local offset = 0
  local found = false
  while not found do
    local p = redis.call('ZRANGE', P .. 'pending', offset, offset + 255, 'WITHSCORES')
    if #p == 0 then break end
    offset = offset + 256
    for i = 1, #p, 2 do
      if tasks[redis.call('HGET', P .. 'run:' .. p[i], 'task_id')] then consider(p[i + 1]); found = true; break end
    end
  end
end
if best == nil then return '' end
return fmt(best)
`,
);

/**
 * Retention, in one step: for each job in `ARGV[2]` (JSON list) the finished runs beyond its newest `ARGV[3]`
 * are deleted; with `ARGV[4]` (ms, `''`: none) finished runs whose fire time and end are both older than
 * that, up to 10,000, oldest first; and retired copies of jobs none of whose runs is active. Returns the
 * number of runs deleted.
 */
export const PRUNE = script(
  'prune',
  `
local keep = tonumber(ARGV[3])
local deleted = 0
for _, id in ipairs(cjson.decode(ARGV[2])) do
  local finals = 0
  for _, rid in ipairs(redis.call('ZREVRANGE', P .. 'job-runs:' .. id, 0, -1)) do
    if FINAL[redis.call('HGET', P .. 'run:' .. rid, 'status')] then
      finals = finals + 1
      if finals > keep then delete_run(rid, id); deleted = deleted + 1 end
    end
  end
end
if ARGV[4] ~= '' then
  local cutoff = now_ms() - tonumber(ARGV[4])
  -- Old runs that are kept (still pending or running: a task no process defines) are stepped over, page by
  -- page, instead of filling a first page for good; one call looks at most at 50,000 and deletes at most
  -- 10,000 (the next call goes on).
  local offset, scanned, removed = 0, 0, 0
  while scanned < 50000 and removed < 10000 do
    local ids = redis.call('ZRANGEBYSCORE', P .. 'runs', '-inf', '(' .. fmt(cutoff), 'LIMIT', offset, 1000)
    if #ids == 0 then break end
    scanned = scanned + #ids
    for _, rid in ipairs(ids) do
      local f = safe('HMGET', P .. 'run:' .. rid, 'status', 'finished_at', 'job_id') or {}
      local fin = tonumber(f[2])
      if FINAL[f[1]] and fin and fin < cutoff then
        delete_run(rid, f[3]); deleted = deleted + 1; removed = removed + 1
      else
        offset = offset + 1
      end
    end
  end
end
for _, id in ipairs(redis.call('SMEMBERS', P .. 'retired')) do
  if redis.call('SCARD', P .. 'active:' .. id) == 0 then
    redis.call('DEL', P .. 'retired:' .. id)
    redis.call('SREM', P .. 'retired', id)
  end
end
return deleted
`,
);

/**
 * Registers node `ARGV[2]` (`ARGV[3]`: JSON `{host, pid, startedAt, clockOffset}`) seen now, and forgets nodes
 * unseen for an hour.
 */
export const REGISTER_NODE = script(
  'register-node',
  `
local now = now_ms()
local info = cjson.decode(ARGV[3])
info.lastSeenAt = fmt(now)
redis.call('HSET', P .. 'nodes', ARGV[2], cjson.encode(info))
local all = redis.call('HGETALL', P .. 'nodes')
for i = 1, #all, 2 do
  if all[i] ~= ARGV[2] then
    local ok, n = pcall(cjson.decode, all[i + 1])
    if not ok or type(n) ~= 'table' or (tonumber(n.lastSeenAt) or 0) < now - 3600000 then
      redis.call('HDEL', P .. 'nodes', all[i])
    end
  end
end
return 1
`,
);

/** The registered nodes (`{id, JSON}` pairs, flat) and, per owner, the runs `running` now (pairs, flat). */
export const GET_NODES = script(
  'get-nodes',
  `
local counts = {}
for _, rid in ipairs(redis.call('ZRANGE', P .. 'running', 0, -1)) do
  local o = redis.call('HGET', P .. 'run:' .. rid, 'owner')
  if o then counts[o] = (counts[o] or 0) + 1 end
end
local flat = {}
for o, n in pairs(counts) do flat[#flat + 1] = o; flat[#flat + 1] = n end
return { redis.call('HGETALL', P .. 'nodes'), flat }
`,
);
