//! The Lua scripts. Each one is a single atomic step on the server; `redis::Script` sends
//! EVALSHA and falls back to EVAL (loading the script) when the server does not know it yet,
//! e.g. after a restart or a failover.
//!
//! The rate-limit scripts judge time only from the `now` the caller passes (milliseconds), never
//! from Redis `TIME` or key expiry; key TTLs are set generously and only collect garbage.

use std::sync::LazyLock;

use deadpool_redis::redis::Script;

/// How a code is kept, in every script that stores one (code `put`, `restore`, the send's
/// script): `put_code(k, hex digest, mismatches used, ttl ms)` replaces whatever `KEYS[k]` held
/// with the hash `d`, `a` living `ttl` ms; a ttl of `'0'` only deletes.
///
/// The shared helpers take the index into `KEYS`, not a key: every command names its key as
/// `KEYS[…]`, which is what managed cluster proxies check (docs/operations.md, *Redis Cluster*).
const PUT_CODE: &str = r"
local function put_code(k, digest, used, ttl)
  redis.call('DEL', KEYS[k])
  if ttl ~= '0' then
    redis.call('HSET', KEYS[k], 'd', digest, 'a', used)
    redis.call('PEXPIRE', KEYS[k], ttl)
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
put_code(1, ARGV[1], 0, ARGV[2])
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
put_code(1, ARGV[1], ARGV[2], ARGV[3])
return 1
",
        ]
        .concat(),
    )
});

/// How a sliding window is judged, in every script that counts in one: `window_wait(k, cut,
/// limit, width, now)` is `-1` while fewer than `limit` entries of the zset `KEYS[k]` are
/// younger than the cut, else how long until enough of them have aged out (ms).
///
/// A reservation at `t` counts in a window `W` while `now - t < W`, i.e. `t > now - W`. For a
/// limit `N` with `n >= N` entries in the window, a send is admitted once the `(n - N + 1)`-th
/// oldest entry has aged out: at `t + W`, and never later than one window from now (another
/// replica's clock may have stamped an entry after our `now`).
const WINDOW_WAIT: &str = r"
local function window_wait(k, cut, limit, width, now)
  local n = redis.call('ZCOUNT', KEYS[k], '(' .. cut, '+inf')
  if n < limit then
    return -1
  end
  if limit <= 0 then
    return width
  end
  local e = redis.call('ZRANGEBYSCORE', KEYS[k], '(' .. cut, '+inf', 'WITHSCORES', 'LIMIT', n - limit, 1)
  return math.min(tonumber(e[2]) + width - now, width)
end
";

/// One sliding window of a client's or of everyone's (a send's client and global windows, a
/// client's captcha log): prune what has aged out, and reserve unless the cap is reached.
///
/// KEYS[1] the window (zset). ARGV: [1] now, [2] cut (now - width), [3] cap, [4] unique member,
/// [5] key TTL ms, [6] width ms. Returns `-1` if reserved, else the wait in ms.
pub(crate) static WINDOW_RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            WINDOW_WAIT,
            r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local wait = window_wait(1, ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[6]), tonumber(ARGV[1]))
if wait < 0 then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return wait
",
        ]
        .concat(),
    )
});

/// The mobile's limits, its send's last step: check the cooldown and the mobile's hourly and
/// daily caps and, if none refuses and the shared windows admitted the send (`ARGV[12]` is
/// `1`), set the cooldown, record the reservation and store the send's code (`put_code`, as
/// [`CODE_PUT`] does; a ttl of 0 stores nothing). Every key is the mobile's: one slot.
///
/// KEYS: [1] cooldown (string), [2] the mobile's sends (zset, one day deep), [3] its code.
/// ARGV: [1] now, [2] cooldown ms, [3] hour cut, [4] day cut, [5] per hour, [6] per day,
/// [7] unique member, [8] cooldown key TTL, [9] sends TTL, [10] hex digest of the code,
/// [11] code ttl ms, [12] `1` to reserve, `0` to only judge, [13] an hour and [14] a day in ms.
///
/// Returns `{1, 0}` when reserved, `{2, 0}` when judged admissible but told not to reserve, or
/// `{kind, wait}` with kind 3 cooldown, 4 hourly, 5 daily: the longest wait, the earlier kind
/// on ties. (The caller maps the kinds; 3..5 keep them apart from the first two answers.)
pub(crate) static SEND_MOBILE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            PUT_CODE,
            WINDOW_WAIT,
            r"
local now = tonumber(ARGV[1])
local best_kind, best_wait = 0, -1
local function consider(kind, wait)
  if wait > best_wait then
    best_kind, best_wait = kind, wait
  end
end

-- A zero cooldown never refuses; a wait never exceeds the cooldown (clock skew between
-- replicas can stamp the last reservation slightly after our `now`).
local cooldown = tonumber(ARGV[2])
local last = redis.call('GET', KEYS[1])
if last and cooldown > 0 then
  local free_at = tonumber(last) + cooldown
  if now < free_at then
    consider(3, math.min(free_at - now, cooldown))
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local hourly = window_wait(2, ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[13]), now)
if hourly >= 0 then consider(4, hourly) end
local daily = window_wait(2, ARGV[4], tonumber(ARGV[6]), tonumber(ARGV[14]), now)
if daily >= 0 then consider(5, daily) end

if best_kind ~= 0 then
  return {best_kind, best_wait}
end
if ARGV[12] ~= '1' then
  return {2, 0}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[9])
put_code(3, ARGV[10], 0, ARGV[11])
return {1, 0}
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

/// Count one sign-in attempt in one window (a client's or an account's), unless it is full.
///
/// KEYS[1] the window (hash `s` start ms, `n` attempts). ARGV: [1] now, [2] window ms, [3] cap,
/// [4] key TTL ms.
/// Returns `{1, start, started}` when counted (`started` 1 if this attempt began the window)
/// or `{0, retry_after_ms}`.
pub(crate) static LOGIN_WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if tonumber(ARGV[3]) <= 0 then
  return {0, window}
end
local v = redis.call('HMGET', KEYS[1], 's', 'n')
local start = tonumber(v[1])
if start and now < start + window then
  if (tonumber(v[2]) or 0) >= tonumber(ARGV[3]) then
    return {0, math.min(start + window - now, window)}
  end
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, start, 0}
end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, now, 1}
",
    )
});

/// Take a counted attempt back out of one window, if that window still starts where it did.
/// A window this attempt began and nobody else has counted in since goes altogether, as if
/// the attempt had never been counted.
///
/// KEYS[1] the window. ARGV[1] its start, ARGV[2] `1` if this attempt began it.
pub(crate) static LOGIN_GIVE_BACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 's') ~= ARGV[1] then
  return 0
end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if ARGV[2] == '1' and n <= 1 then
  redis.call('DEL', KEYS[1])
elseif n > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
end
return 1
",
    )
});

/// How a session is read, in every script that reads one (`get`, `list`, `end`):
/// `read_session(k, now)` returns the session hash's fields `{u, i, c, l, t, a}` (user id,
/// session id, created ms, last used ms, sliding ttl ms — `0` for a cookie session, which is
/// how the kind is told — and user agent or `false`), or `nil` if there is no session under
/// `KEYS[k]`.
///
/// A live session costs one command (`HMGET`): `get` runs on every authenticated request. Only a
/// key that is not a hash (`WRONGTYPE`) is looked at again: a session written by the release
/// before this layout is a STRING holding the user id. It is upgraded in place to a cookie
/// session created and last used at `now` (ms, a string), keeping its remaining PTTL, with the
/// id `sha1hex(key)` cut to 32 characters.
const READ_SESSION: &str = r"
local function read_session(k, now)
  local s = redis.pcall('HMGET', KEYS[k], 'u', 'i', 'c', 'l', 't', 'a')
  if not s.err then
    if s[1] then
      return s
    end
    return nil
  end
  if redis.call('TYPE', KEYS[k]).ok ~= 'string' then
    return nil
  end
  local user = redis.call('GET', KEYS[k])
  local pttl = redis.call('PTTL', KEYS[k])
  redis.call('DEL', KEYS[k])
  redis.call('HSET', KEYS[k], 'u', user, 'i', string.sub(redis.sha1hex(KEYS[k]), 1, 32),
    'c', now, 'l', now, 't', '0')
  if pttl > 0 then
    redis.call('PEXPIRE', KEYS[k], pttl)
  end
  return redis.call('HMGET', KEYS[k], 'u', 'i', 'c', 'l', 't', 'a')
end
";

/// Start a session: its hash, living `ttl`.
///
/// KEYS[1] the session key. ARGV: [1] user id, [2] session id, [3] now ms, [4] ttl ms,
/// [5] sliding ttl ms (`0` for a cookie session), [6] user agent (absent if none).
pub(crate) static SESSION_PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'i', ARGV[2], 'c', ARGV[3], 'l', ARGV[3],
  't', ARGV[5])
if ARGV[6] then
  redis.call('HSET', KEYS[1], 'a', ARGV[6])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
",
    )
});

/// Keep a user's index: forget the sessions named as ended, add the new one (if any), and
/// name the oldest beyond the cap (the caller ends them, then drops them from the index: two
/// concurrent sign-ins that both find the index over the cap end the same oldest ones, and
/// never too few).
///
/// KEYS[1] the user's index (zset of session keys in creation order: each added one scores
/// one more than the newest, so the order is the order of the adds). ARGV: [1] the index's
/// least ttl ms (the new session's), [2] max sessions per user (>= 1), [3] the new session's
/// key, or empty to add none, [4…] keys of sessions that have ended.
/// Returns the keys beyond the cap, oldest first.
pub(crate) static SESSION_INDEX: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 4, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
if ARGV[3] ~= '' then
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  local order = (tonumber(newest[2]) or 0) + 1
  redis.call('ZADD', KEYS[1], string.format('%d', order), ARGV[3])
end
local excess = {}
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if over > 0 then
  excess = redis.call('ZRANGE', KEYS[1], 0, over - 1)
end
-- The index lives as long as the longest-lived session in it (never shortened).
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return excess
",
    )
});

/// The session of a token, recording a use when one is due.
///
/// KEYS[1] the session key. ARGV: [1] now ms, [2] touch interval ms.
/// Returns the fields as `read_session` does with a seventh, `1` when an app session was just
/// extended (its user's index must then live as long: the caller's next step), or nil.
///
/// A use is recorded when `now` is at least the touch interval after `l`: `l` becomes `now`
/// and, for an app session (`t` > 0), the key lives `t` ms from now again.
pub(crate) static SESSION_GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            READ_SESSION,
            r"
local s = read_session(1, ARGV[1])
if not s or not s[4] then
  return s
end
s[7] = 0
if tonumber(ARGV[1]) - tonumber(s[4]) >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'l', ARGV[1])
  s[4] = ARGV[1]
  if tonumber(s[5] or '0') > 0 then
    redis.call('PEXPIRE', KEYS[1], s[5])
    s[7] = 1
  end
end
return s
",
        ]
        .concat(),
    )
});

/// Make a key live at least `ttl` ms from now (never shortened).
///
/// KEYS[1] the key. ARGV[1] ttl ms.
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
",
    )
});

/// Read one session (`read_session`, at the server's time for an upgrade), without recording
/// a use: what `list` and `end` walk a user's index with.
///
/// KEYS[1] the session key. Returns the fields or nil.
pub(crate) static SESSION_READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        &[
            READ_SESSION,
            r"
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return read_session(1, now)
",
        ]
        .concat(),
    )
});

#[cfg(test)]
mod tests {
    /// Every command a script runs names its key as `KEYS[…]`: what Redis Cluster needs to
    /// route a script (all its keys declared, in one slot) and what managed cluster proxies
    /// check (Aliyun's refuses a script whose key positions are anything else).
    #[test]
    fn every_command_names_its_key_from_keys() {
        let source = include_str!("scripts.rs");
        let source = &source[..source.find("#[cfg(test)]").unwrap()];
        let mut checked = 0;
        for call in ["redis.call('", "redis.pcall('"] {
            for (at, _) in source.match_indices(call) {
                let rest = &source[at + call.len()..];
                let command = &rest[..rest.find('\'').unwrap()];
                if command == "TIME" {
                    continue;
                }
                let args = rest[command.len() + 1..].trim_start_matches([',', ' ']);
                assert!(
                    args.starts_with("KEYS["),
                    "redis.call('{command}', …) must name its key as KEYS[…]: {}",
                    &args[..args.len().min(40)]
                );
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} commands found");
    }
}
