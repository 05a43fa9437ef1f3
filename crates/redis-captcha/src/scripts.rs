//! The Lua scripts. Each one is a single atomic step on the server; `redis::Script` sends
//! EVALSHA and falls back to EVAL (loading the script) when the server does not know it yet,
//! e.g. after a restart or a failover.
//!
//! The rate-limit scripts judge time only from the `now` the caller passes (milliseconds), never
//! from Redis `TIME` or key expiry; key TTLs are set generously and only collect garbage.

use std::sync::LazyLock;

use deadpool_redis::redis::Script;

/// How a code is kept, in every script that stores one (code `put`, `restore`, the send's
/// script): `put_code(key, hex digest, mismatches used, ttl ms)` replaces whatever `key` held
/// with the hash `d`, `a` living `ttl` ms; a ttl of `'0'` only deletes.
const PUT_CODE: &str = r"
local function put_code(key, digest, used, ttl)
  redis.call('DEL', key)
  if ttl ~= '0' then
    redis.call('HSET', key, 'd', digest, 'a', used)
    redis.call('PEXPIRE', key, ttl)
  end
end
";

/// Store a code digest, replacing any earlier code and resetting its attempts.
///
/// KEYS[1] code hash. ARGV[1] hex digest, ARGV[2] ttl ms (0: delete only).
pub(crate) static CODE_PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            PUT_CODE,
            r"
put_code(KEYS[1], ARGV[1], 0, ARGV[2])
return 1
",
        ]
        .concat(),
    )
});

/// Delete the code only if it is still this digest.
///
/// KEYS[1] code hash. ARGV[1] hex digest. Returns 1 if deleted.
pub(crate) static CODE_WITHDRAW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'd') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Verify and consume.
///
/// KEYS[1] code hash. ARGV[1] candidate hex digest, ARGV[2] max attempts.
/// Returns `{0, 0}` missing, `{1, mismatches, pttl}` accepted (deleted; what it had used and how
/// long it had left, for a restore), `{2, attempts_left}` mismatch.
///
/// The comparison visits every byte of the candidate and ORs the XOR of each pair into one
/// accumulator, so how long it takes does not depend on where the first difference is.
pub(crate) static CODE_VERIFY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local stored = redis.call('HGET', KEYS[1], 'd')
if not stored then
  return {0, 0}
end
local cand = ARGV[1]
local diff = 0
if #stored ~= #cand then
  diff = 1
end
for i = 1, #cand do
  diff = bit.bor(diff, bit.bxor(string.byte(stored, i) or 0, string.byte(cand, i)))
end
if diff == 0 then
  local used = tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
  local pttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  return {1, used, pttl}
end
local used = redis.call('HINCRBY', KEYS[1], 'a', 1)
local max = tonumber(ARGV[2])
if used >= max then
  redis.call('DEL', KEYS[1])
  return {2, 0}
end
return {2, max - used}
",
    )
});

/// Put a consumed code back, unless a code is live.
///
/// KEYS[1] code hash. ARGV[1] hex digest, ARGV[2] mismatches used, ARGV[3] ttl ms (> 0).
/// Returns 1 if put back.
pub(crate) static CODE_RESTORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            PUT_CODE,
            r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
put_code(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
",
        ]
        .concat(),
    )
});

/// Check every send limit and, if none refuses, record the reservation in all of them and
/// store the send's code (`put_code`, as [`CODE_PUT`] does; a ttl of 0 stores nothing).
///
/// KEYS: [1] mobile cooldown (string), [2] mobile sends (zset, one day deep), [3] IP hourly
/// (zset), [4] global hourly (zset), [5] the mobile's code (hash).
/// ARGV: [1] now, [2] cooldown ms, [3] hour cut (now - 1 h), [4] day cut (now - 1 d),
/// [5] mobile per hour, [6] mobile per day, [7] IP per hour, [8] global per hour,
/// [9] unique member, [10] cooldown key TTL, [11] mobile sends TTL, [12] hourly sets TTL,
/// [13] hex digest of the code, [14] code ttl ms.
///
/// A reservation at `t` counts in a window `W` while `now - t < W`, i.e. `t > now - W`; entries
/// at or below the cut are pruned. For a limit `N` with `n >= N` entries in the window, the send
/// is admitted once the `(n - N + 1)`-th oldest entry has aged out: at `t + W`.
///
/// Returns `{1, 0, 0}` for a permit or `{0, kind, retry_after_ms}` with kind 1 cooldown,
/// 2 mobile hourly, 3 mobile daily, 4 IP hourly, 5 global hourly: the refusal with the longest
/// wait, the earlier kind on ties.
pub(crate) static ACQUIRE_SEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            PUT_CODE,
            r"
local now = tonumber(ARGV[1])
local hour_cut = ARGV[3]
local day_cut = ARGV[4]
local best_kind = 0
local best_wait = -1

local function consider(kind, wait)
  if wait > best_wait then
    best_kind = kind
    best_wait = wait
  end
end

local function window(key, cut, limit, width, kind)
  local n = redis.call('ZCOUNT', key, '(' .. cut, '+inf')
  if n < limit then
    return
  end
  if limit <= 0 then
    consider(kind, width)
    return
  end
  local e = redis.call('ZRANGEBYSCORE', key, '(' .. cut, '+inf', 'WITHSCORES', 'LIMIT', n - limit, 1)
  -- At most one window: another replica's clock may have stamped an entry after our `now`.
  consider(kind, math.min(tonumber(e[2]) + width - now, width))
end

-- A zero cooldown never refuses; a wait never exceeds the cooldown (clock skew between
-- replicas can stamp the last reservation slightly after our `now`).
local cooldown = tonumber(ARGV[2])
local last = redis.call('GET', KEYS[1])
if last and cooldown > 0 then
  local free_at = tonumber(last) + cooldown
  if now < free_at then
    consider(1, math.min(free_at - now, cooldown))
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', day_cut)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', hour_cut)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', hour_cut)

window(KEYS[2], hour_cut, tonumber(ARGV[5]), 3600000, 2)
window(KEYS[2], day_cut, tonumber(ARGV[6]), 86400000, 3)
window(KEYS[3], hour_cut, tonumber(ARGV[7]), 3600000, 4)
window(KEYS[4], hour_cut, tonumber(ARGV[8]), 3600000, 5)

if best_kind ~= 0 then
  return {0, best_kind, best_wait}
end

redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[10])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[11])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[9])
redis.call('PEXPIRE', KEYS[3], ARGV[12])
redis.call('ZADD', KEYS[4], ARGV[1], ARGV[9])
redis.call('PEXPIRE', KEYS[4], ARGV[12])
put_code(KEYS[5], ARGV[13], 0, ARGV[14])
return {1, 0, 0}
",
        ]
        .concat(),
    )
});

/// Lift a cooldown only if it is still the one this permit set.
///
/// KEYS[1] cooldown. ARGV[1] the permit's reserved_at. Returns 1 if deleted.
pub(crate) static RELEASE_COOLDOWN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Count one captcha for a client unless the cap is reached in the sliding minute, and if
/// counted, store its text (`SET … PX`; a ttl of 0 stores nothing).
///
/// KEYS[1] the client's captcha log (zset), KEYS[2] the captcha (string). ARGV[1] now,
/// ARGV[2] minute cut (now - 60 s), ARGV[3] cap, ARGV[4] unique member, ARGV[5] key TTL ms,
/// ARGV[6] the text, ARGV[7] its ttl ms.
/// Returns `{1, 0}` issued or `{0, retry_after_ms}`.
pub(crate) static ACQUIRE_CAPTCHA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if cap <= 0 then
  return {0, 60000}
end
local n = redis.call('ZCARD', KEYS[1])
if n >= cap then
  local e = redis.call('ZRANGE', KEYS[1], n - cap, n - cap, 'WITHSCORES')
  return {0, math.min(tonumber(e[2]) + 60000 - now, 60000)}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[7] == '0' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[7])
end
return {1, 0}
",
    )
});

/// Admit one sign-in attempt and count it in the client's and the account's windows, or refuse.
///
/// KEYS: [1] the client's window (hash `s` start, `n` attempts), [2] the account's window.
/// ARGV: [1] now, [2] window ms, [3] client cap, [4] account cap, [5] key TTL ms.
/// Returns `{1, client_start, account_start}` or `{0, kind, retry_after_ms}` with kind
/// 1 client, 2 account: the longer wait, the client on ties.
pub(crate) static ACQUIRE_LOGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])

-- The live window under key: its start and count, or nil.
local function live(key)
  local v = redis.call('HMGET', key, 's', 'n')
  local start = tonumber(v[1])
  if start and now < start + window then
    return start, tonumber(v[2]) or 0
  end
  return nil, 0
end

local function wait(key, cap)
  if cap <= 0 then
    return window
  end
  local start, n = live(key)
  if start and n >= cap then
    return math.min(start + window - now, window)
  end
  return -1
end

local client_wait = wait(KEYS[1], tonumber(ARGV[3]))
local account_wait = wait(KEYS[2], tonumber(ARGV[4]))
if client_wait >= 0 or account_wait >= 0 then
  if client_wait >= account_wait then
    return {0, 1, client_wait}
  end
  return {0, 2, account_wait}
end

local function count(key)
  local start = live(key)
  if start then
    redis.call('HINCRBY', key, 'n', 1)
  else
    start = now
    redis.call('HSET', key, 's', ARGV[1], 'n', 1)
  end
  redis.call('PEXPIRE', key, ARGV[5])
  return start
end

return {1, count(KEYS[1]), count(KEYS[2])}
",
    )
});

/// Take an admitted attempt back out of the windows it was counted in.
///
/// KEYS: [1] the client's window, [2] the account's window.
/// ARGV: [1] the client window's start, [2] the account window's start.
pub(crate) static RELEASE_LOGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 1, 2 do
  if redis.call('HGET', KEYS[i], 's') == ARGV[i] and tonumber(redis.call('HGET', KEYS[i], 'n') or '0') > 0 then
    redis.call('HINCRBY', KEYS[i], 'n', -1)
  end
end
return 1
",
    )
});

/// How a session is read, in every script that reads one (`get`, `list`, `end`):
/// `read_session(key, now)` returns the session hash's fields `{u, i, c, l, t, a}` (user id,
/// session id, created ms, last used ms, sliding ttl ms — `0` for a cookie session, which is
/// how the kind is told — and user agent or `false`), or `nil` if there is no session under
/// `key`.
///
/// A live session costs one command (`HMGET`): `get` runs on every authenticated request. Only a
/// key that is not a hash (`WRONGTYPE`) is looked at again: a session written by the release
/// before this layout is a STRING holding the user id. It is upgraded in place to a cookie
/// session created and last used at `now` (ms, a string), keeping its remaining PTTL, with the
/// id `sha1hex(key)` cut to 32 characters.
const READ_SESSION: &str = r"
local function read_session(key, now)
  local s = redis.pcall('HMGET', key, 'u', 'i', 'c', 'l', 't', 'a')
  if not s.err then
    if s[1] then
      return s
    end
    return nil
  end
  if redis.call('TYPE', key).ok ~= 'string' then
    return nil
  end
  local user = redis.call('GET', key)
  local pttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  redis.call('HSET', key, 'u', user, 'i', string.sub(redis.sha1hex(key), 1, 32),
    'c', now, 'l', now, 't', '0')
  if pttl > 0 then
    redis.call('PEXPIRE', key, pttl)
  end
  return redis.call('HMGET', key, 'u', 'i', 'c', 'l', 't', 'a')
end
";

/// How a user's index is walked, in every script that reads the user's sessions (`list`,
/// `end`): `user_sessions(index, user)` returns the keys and the `read_session` fields of the
/// user's live sessions, oldest first, as two arrays (a legacy session is upgraded at the
/// server's time), and drops from the index what has ended. Goes after `READ_SESSION`.
const USER_SESSIONS: &str = r"
local function user_sessions(index, user)
  local t = redis.call('TIME')
  local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  local keys, sessions = {}, {}
  for _, key in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    local s = read_session(key, now)
    if not s then
      redis.call('ZREM', index, key)
    elseif s[1] == user then
      keys[#keys + 1] = key
      sessions[#sessions + 1] = s
    end
  end
  return keys, sessions
end
";

/// Start a session and end the user's oldest beyond the cap.
///
/// KEYS: [1] the session key (hash), [2] the user's session index (zset of session keys in
/// creation order: microseconds of the server clock, kept strictly increasing per user).
/// ARGV: [1] user id, [2] session id, [3] now ms, [4] ttl ms, [5] sliding ttl ms (`0` for a
/// cookie session), [6] max sessions per user (>= 1), [7] user agent (absent if none).
///
/// The index names keys that are not in KEYS (the user's other sessions): fine on one Redis
/// server; Redis Cluster needs the user's sessions in one slot.
pub(crate) static SESSION_CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'i', ARGV[2], 'c', ARGV[3], 'l', ARGV[3],
  't', ARGV[5])
if ARGV[7] then
  redis.call('HSET', KEYS[1], 'a', ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local t = redis.call('TIME')
local order = tonumber(t[1]) * 1000000 + tonumber(t[2])
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) >= order then
  order = tonumber(newest[2]) + 1
end
redis.call('ZADD', KEYS[2], string.format('%d', order), KEYS[1])
-- Forget sessions that have ended (expired or signed out).
for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', KEYS[2], key)
  end
end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if excess > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #oldest, 2 do
    redis.call('DEL', oldest[i])
  end
end
-- The index lives as long as the longest-lived session in it (never shortened).
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
",
    )
});

/// The session of a token, recording a use when one is due.
///
/// KEYS[1] the session key. ARGV: [1] now ms, [2] touch interval ms, [3] the user index key
/// with `{}` for the user id (`{prefix}:user:{}:sessions`).
/// Returns the fields as `read_session` does, or nil.
///
/// A use is recorded when `now` is at least the touch interval after `l`: `l` becomes `now`
/// and, for an app session (`t` > 0), the key lives `t` ms from now again, and the user's index
/// at least as long. The index key comes from the session's `u`, so it is not in KEYS (one
/// Redis server, as for `SESSION_CREATE`).
pub(crate) static SESSION_GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            READ_SESSION,
            r"
local s = read_session(KEYS[1], ARGV[1])
if not s or not s[4] then
  return s
end
if tonumber(ARGV[1]) - tonumber(s[4]) >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'l', ARGV[1])
  s[4] = ARGV[1]
  local ttl = tonumber(s[5] or '0')
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], s[5])
    local from, to = string.find(ARGV[3], '{}', 1, true)
    local index = string.sub(ARGV[3], 1, from - 1) .. s[1] .. string.sub(ARGV[3], to + 1)
    if redis.call('PTTL', index) < ttl then
      redis.call('PEXPIRE', index, s[5])
    end
  end
end
return s
",
        ]
        .concat(),
    )
});

/// The user's live sessions, oldest first (`user_sessions`).
///
/// KEYS[1] the user's index. ARGV[1] user id.
/// Returns one `read_session` array per session.
pub(crate) static SESSION_LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            READ_SESSION,
            USER_SESSIONS,
            r"
local _, sessions = user_sessions(KEYS[1], ARGV[1])
return sessions
",
        ]
        .concat(),
    )
});

/// End the user's session with this id (found by `user_sessions`).
///
/// KEYS[1] the user's index. ARGV[1] user id, ARGV[2] session id. Returns 1 if one was ended.
pub(crate) static SESSION_END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            READ_SESSION,
            USER_SESSIONS,
            r"
local keys, sessions = user_sessions(KEYS[1], ARGV[1])
for n, s in ipairs(sessions) do
  if s[2] == ARGV[2] then
    redis.call('DEL', keys[n])
    redis.call('ZREM', KEYS[1], keys[n])
    return 1
  end
end
return 0
",
        ]
        .concat(),
    )
});

/// End every session in the user's index but one (legacy string sessions too, unread). The
/// index goes with its last member.
///
/// KEYS[1] the user's index, KEYS[2] the session key to keep (absent: keep none).
pub(crate) static SESSION_END_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if key ~= KEYS[2] then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], key)
  end
end
return 1
",
    )
});
