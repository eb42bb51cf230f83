// The Lua scripts the Redis backplane runs (EVALSHA): each is one atomic
// step in Redis, so two nodes publishing at once can never give two events
// one id, and an event is in its channel's stream exactly when it was
// announced. The key and message layouts are protocol.hpp's.
#pragma once

namespace ssepp::redis::scripts {

// A new epoch: Redis's clock in microseconds, in base 36. Made only when
// the count is missing (a Redis that lost its data) or behind what a node
// has seen (a Redis restarted from an older snapshot), and the clock has
// moved on since any earlier epoch was made.
#define SSEPP_REDIS_LUA_EPOCH                                                         \
  "local function new_epoch()\n"                                                      \
  "  local t = redis.call('TIME')\n"                                                  \
  "  local n = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"                           \
  "  local digits = '0123456789abcdefghijklmnopqrstuvwxyz'\n"                         \
  "  local s = ''\n"                                                                  \
  "  while n > 0 do\n"                                                                \
  "    local d = n % 36\n"                                                            \
  "    s = string.sub(digits, d + 1, d + 1) .. s\n"                                   \
  "    n = math.floor(n / 36)\n"                                                      \
  "  end\n"                                                                           \
  "  return s\n"                                                                      \
  "end\n"                                                                             \
  "-- The count, checked against what the caller has seen.\n"                         \
  "local function current(meta, known_epoch, known_seq)\n"                            \
  "  local epoch = redis.call('HGET', meta, 'epoch')\n"                               \
  "  local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')\n"                  \
  "  if not epoch or (epoch == known_epoch and seq < known_seq) then\n"               \
  "    epoch = new_epoch()\n"                                                         \
  "    redis.call('HSET', meta, 'epoch', epoch, 'seq', string.format('%.0f', seq))\n" \
  "  end\n"                                                                           \
  "  return epoch, seq\n"                                                             \
  "end\n"

/// KEYS[1] the meta hash; ARGV[1], ARGV[2] the epoch and the highest seq
/// the caller has seen under it ("" and 0 for none). Returns {epoch, seq}:
/// the current count, made anew if Redis lost it or went back.
inline constexpr const char* check = SSEPP_REDIS_LUA_EPOCH
    "local epoch, seq = current(KEYS[1], ARGV[1], tonumber(ARGV[2]))\n"
    "return {epoch, string.format('%.0f', seq)}\n";

/// Publishes events to one channel. KEYS[1] the meta hash, KEYS[2] the
/// channel's stream, KEYS[3] its last seq (key_names::last). ARGV: [1] the pub/sub channel, [2] the
/// stream's bound in events, [3] '=' (exact) or '~' (approximate, for large bounds), [4] its bound
/// in age (ms), [5] and [6] the epoch and seq the caller has seen, then a type and a data per
/// event. Numbers the events, adds them to the stream (trimming it by count and age), refreshes its
/// expiry, announces them in one message (protocol.hpp's parse_message), and returns {epoch, last
/// seq}: the events got "<epoch>-<last seq - n + 1>" to "<epoch>-<last seq>".
///
/// Per script, not per event: the trims, the announcement (one PUBLISH,
/// which Redis copies to every subscribed node) and the bookkeeping, so a
/// batch costs Redis little more than its XADDs.
inline constexpr const char* publish = SSEPP_REDIS_LUA_EPOCH
    "local meta, stream = KEYS[1], KEYS[2]\n"
    "local epoch, seq = current(meta, ARGV[5], tonumber(ARGV[6]))\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local age = tonumber(ARGV[4])\n"
    "local n = (#ARGV - 6) / 2\n"
    "local function added(entry)\n"
    "  local f = entry[2]\n"
    "  for j = 1, #f, 2 do if f[j] == 'm' then return tonumber(f[j + 1]) end end\n"
    "  return now\n"
    "end\n"
    // Age: only when the oldest entry is too old, the oldest few more than
    // this publish adds, so the stream sheds old entries at least as fast
    // as it grows.
    "local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)\n"
    "if first[1] and added(first[1]) < now - age then\n"
    "  local cut = nil\n"
    "  for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', 8 + 2 * n)) do\n"
    "    if added(entry) < now - age then cut = entry[1] else break end\n"
    "  end\n"
    "  local s = tonumber(string.match(cut, '^(%d+)'))\n"
    "  redis.call('XTRIM', stream, 'MINID', string.format('%.0f', s + 1) .. '-0')\n"
    "end\n"
    // The channel's previous event: the stream's last entry, or once the
    // stream expired, the seq kept in KEYS[3]; 0 for a channel never
    // published to (or idle for a day past its stream's expiry).
    "local prev = 0\n"
    "local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)\n"
    "if last[1] then\n"
    "  prev = tonumber(string.match(last[1][1], '^(%d+)'))\n"
    "else\n"
    "  prev = tonumber(redis.call('GET', KEYS[3]) or '') or 0\n"
    "end\n"
    // A count lost while the streams stayed (a key evicted alone) must not
    // go back below them: stream ids only grow.
    "if prev > seq then seq = prev end\n"
    "local message = {epoch, string.format('%.0f', seq + 1), string.format('%.0f', prev), n}\n"
    "for i = 7, #ARGV, 2 do\n"
    "  seq = seq + 1\n"
    "  local s = string.format('%.0f', seq)\n"
    "  redis.call('XADD', stream, s .. '-0', 'e', epoch, 'p', string.format('%.0f', prev), 'm', "
    "now,\n"
    "             't', ARGV[i], 'd', ARGV[i + 1])\n"
    "  message[#message + 1] = ARGV[i]\n"
    "  message[#message + 1] = #ARGV[i + 1]\n"
    "  message[#message + 1] = ARGV[i + 1]\n"
    "  prev = seq\n"
    "end\n"
    "redis.call('XTRIM', stream, 'MAXLEN', ARGV[3], ARGV[2])\n"
    "redis.call('HSET', meta, 'seq', string.format('%.0f', seq))\n"
    "redis.call('PEXPIRE', stream, age)\n"
    "redis.call('SET', KEYS[3], string.format('%.0f', seq), 'PX', age + 86400000)\n"
    "redis.call('PUBLISH', ARGV[1], table.concat(message, '\\n'))\n"
    "return {epoch, string.format('%.0f', seq)}\n";

#undef SSEPP_REDIS_LUA_EPOCH

}  // namespace ssepp::redis::scripts
