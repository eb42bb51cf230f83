// The Redis backplane's protocol, without I/O: what its ids, keys and
// messages look like, and the decisions a node makes from them (apply a
// live event or fill a hole first; resume a client from the local cache,
// from Redis, or with a gap event). backplane.hpp does the I/O; this
// header needs only the standard library and is tested without Redis.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../http/decimal.hpp"

namespace ssepp::redis {

/// An id the backplane assigned: "<epoch>-<seq>". `seq` counts every event
/// published under one key prefix (all channels together, so ids order a
/// stream of several channels too); `epoch` names the life of that count
/// in Redis, and changes when Redis lost it (see scripts.hpp).
struct event_id {
  std::string epoch;
  std::uint64_t seq = 0;
};

inline std::string format_id(std::string_view epoch, std::uint64_t seq) {
  std::string id(epoch);
  id.push_back('-');
  id += std::to_string(seq);
  return id;
}

/// Parses an id the backplane could have assigned; nullopt for any other
/// (a publisher's own, a mangled one, a number past 64 bits).
inline std::optional<event_id> parse_id(std::string_view id) {
  const auto dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  const auto epoch = id.substr(0, dash);
  for (const char c : epoch)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return std::nullopt;
  const auto seq = http::parse_decimal<std::uint64_t>(id.substr(dash + 1));
  if (!seq || *seq == 0) return std::nullopt;
  return event_id{std::string(epoch), *seq};
}

/// One event as Redis holds it: in a channel's stream (an entry with
/// fields e, p, t, d) and in the pub/sub message that announces it.
struct wire_event {
  std::string epoch;
  std::uint64_t seq = 0;
  /// The seq of the channel's previous event in its stream when this one
  /// was added; 0 when the stream was empty. A node that applied `prev`
  /// last has missed nothing of the channel.
  std::uint64_t prev = 0;
  std::string type;
  std::string data;
  std::string id() const { return format_id(epoch, seq); }
};

/// The Redis names under one prefix (default "ssepp:"); one prefix is one
/// id space, shared by every node configured with it.
struct key_names {
  std::string prefix = "ssepp:";
  /// A hash: `epoch` and `seq`, the last seq assigned.
  std::string meta() const { return prefix + "meta"; }
  /// A channel's history: a stream whose entry ids are "<seq>-0".
  std::string stream(std::string_view channel) const {
    return prefix + "s:" + std::string(channel);
  }
  /// A channel's last seq, kept a day after its stream expired, so the
  /// event that starts a stream again still says which one came before.
  std::string last(std::string_view channel) const { return prefix + "l:" + std::string(channel); }
  /// Where a channel's events are announced (PUBLISH).
  std::string pubsub(std::string_view channel) const {
    return prefix + "c:" + std::string(channel);
  }
  /// The channel a pub/sub channel name announces; nullopt for another.
  std::optional<std::string> channel_of_pubsub(std::string_view name) const {
    const std::string head = prefix + "c:";
    if (name.size() <= head.size() || name.substr(0, head.size()) != head) return std::nullopt;
    return std::string(name.substr(head.size()));
  }
};

/// Parses a pub/sub message, which announces the events of one publish:
/// "epoch\nfirst seq\nprev\ncount", then per event "\ntype\nsize\n" and
/// `size` bytes of data (which may hold line breaks of its own), as the
/// publish script makes it. The events' seqs follow one another from the
/// first; each one's prev is the one before it. Empty if malformed.
inline std::vector<wire_event> parse_message(std::string_view payload) {
  auto line = [&payload](std::string_view& out) {
    const auto nl = payload.find('\n');
    if (nl == std::string_view::npos) {
      out = payload;
      payload = {};
      return;
    }
    out = payload.substr(0, nl);
    payload.remove_prefix(nl + 1);
  };
  std::string_view epoch, first_text, prev_text, count_text;
  line(epoch);
  line(first_text);
  line(prev_text);
  line(count_text);
  const auto first = http::parse_decimal<std::uint64_t>(first_text);
  const auto prev = http::parse_decimal<std::uint64_t>(prev_text);
  const auto count = http::parse_decimal<std::uint64_t>(count_text);
  std::vector<wire_event> out;
  if (epoch.empty() || !first || *first == 0 || !prev || !count || *count == 0 ||
      *count > payload.size() + 1)
    return out;
  for (std::uint64_t i = 0; i < *count; ++i) {
    std::string_view type, size_text;
    line(type);
    line(size_text);
    const auto size = http::parse_decimal<std::size_t>(size_text);
    if (!size || *size > payload.size()) return {};
    wire_event e;
    e.epoch = std::string(epoch);
    e.seq = *first + i;
    e.prev = i == 0 ? *prev : e.seq - 1;
    e.type = std::string(type);
    e.data = std::string(payload.substr(0, *size));
    payload.remove_prefix(*size);
    const bool last = i + 1 == *count;
    if (last ? !payload.empty() : (payload.empty() || payload.front() != '\n')) return {};
    if (!last) payload.remove_prefix(1);
    out.push_back(std::move(e));
  }
  return out;
}

/// Makes an event of a stream entry: its id ("<seq>-0") and its fields,
/// name and value in turn. nullopt if any is missing or malformed.
inline std::optional<wire_event> parse_entry(
    std::string_view entry_id,
    const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  const auto dash = entry_id.find('-');
  const auto seq = http::parse_decimal<std::uint64_t>(entry_id.substr(0, dash));
  if (!seq || *seq == 0) return std::nullopt;
  wire_event e;
  e.seq = *seq;
  bool have_epoch = false, have_prev = false, have_data = false;
  for (const auto& [name, value] : fields) {
    if (name == "e") {
      e.epoch = std::string(value);
      have_epoch = !value.empty();
    } else if (name == "p") {
      const auto prev = http::parse_decimal<std::uint64_t>(value);
      if (!prev) return std::nullopt;
      e.prev = *prev;
      have_prev = true;
    } else if (name == "t") {
      e.type = std::string(value);
    } else if (name == "d") {
      e.data = std::string(value);
      have_data = true;
    }
  }
  if (!have_epoch || !have_prev || !have_data) return std::nullopt;
  return e;
}

/// What a node knows of one channel: the epoch and seq of the last event
/// it applied to its hub. Everything of the channel up to `applied` is in
/// the hub (or was, until its history evicted it), with no hole.
struct channel_position {
  std::string epoch;
  std::uint64_t applied = 0;
};

/// What to do with a live event (see on_live_event).
enum class live_action {
  apply,      ///< the next one: deliver it, applied = its seq
  drop,       ///< applied already (a catch-up read brought it first)
  fill_hole,  ///< events came between: read them from Redis first
  new_epoch,  ///< Redis lost its count: catch up under the new epoch
};

/// Live events are applied by sequence: the next one is delivered, an
/// older one dropped, a jump fills the hole (events published while the
/// node was not subscribed, or lost by pub/sub, which delivers at most
/// once) with one read of the stream first.
inline live_action on_live_event(const channel_position& at, const wire_event& e) {
  if (e.epoch != at.epoch) return live_action::new_epoch;
  if (e.seq <= at.applied) return live_action::drop;
  if (e.prev > at.applied) return live_action::fill_hole;
  return live_action::apply;
}

/// Which entries of a catch-up read (the channel's stream after `at`, or
/// all of it under a new epoch) are new to a node at `at`, in order:
/// under `at`'s epoch, those after `at.applied`; under `epoch`, the one
/// Redis numbers under now if it is another (a Redis that lost its count
/// numbers anew, from wherever its count stood), all of them. Entries of
/// any other epoch are history the node has seen or never will.
inline std::vector<wire_event> new_entries(const channel_position& at, std::string_view epoch,
                                           std::vector<wire_event> entries) {
  std::vector<wire_event> out;
  for (auto& e : entries)
    if ((e.epoch == at.epoch && e.seq > at.applied) || (e.epoch != at.epoch && e.epoch == epoch))
      out.push_back(std::move(e));
  return out;
}

/// How a node resumes a client that sent a Last-Event-ID (see decide_resume).
enum class resume_kind {
  live,        ///< no id: live events only
  local,       ///< the node's hub history holds the id: it replays alone
  from_redis,  ///< read the channels' streams after the id
  gap,         ///< the id cannot be resumed from: gap event, then live
};

struct resume_decision {
  resume_kind kind = resume_kind::live;
  std::uint64_t after = 0;  ///< from_redis: the seq the client saw last
  std::string gap_reason;   ///< gap: "unknown" or "unavailable"
};

/// Where a resume comes from. `in_local_history`: the node's hub holds the
/// id. `epoch`: the current one of the node's Redis (empty while unknown).
/// `redis_up`: whether Redis can be read now.
inline resume_decision decide_resume(std::string_view last_event_id, bool in_local_history,
                                     std::string_view epoch, bool redis_up) {
  if (last_event_id.empty()) return {};
  if (in_local_history) return {resume_kind::local, 0, {}};
  const auto id = parse_id(last_event_id);
  // Not an id the backplane assigns: nothing anywhere resumes from it.
  if (!id) return {resume_kind::gap, 0, "unknown"};
  if (!redis_up || epoch.empty()) return {resume_kind::gap, 0, "unavailable"};
  // Another epoch's id names a position in a count Redis has lost.
  if (id->epoch != epoch) return {resume_kind::gap, 0, "unknown"};
  return {resume_kind::from_redis, id->seq, {}};
}

/// What a read from Redis gives to resume a client after seq `after`: per
/// channel, its stream's entries after `after` up to the seq the node had
/// applied when it sent the read (`applied`; what the node applied since
/// is in its hub's history after the mark it took then).
struct channel_read {
  std::vector<wire_event> entries;  ///< in seq order
  std::uint64_t applied = 0;
};

/// The replay of a resume from Redis: the events (of all the channels,
/// merged in seq order) after `after` and up to what the node had applied,
/// and whether some were lost: a channel's first entry after `after`
/// follows an event that is no longer in the stream (its `prev` is past
/// `after`), or the stream holds nothing after `after` but the node
/// applied an event there.
struct redis_replay {
  std::vector<wire_event> events;
  bool lost = false;
};

inline redis_replay plan_redis_replay(std::uint64_t after, std::vector<channel_read> reads) {
  redis_replay out;
  for (auto& read : reads) {
    bool first = true;
    for (auto& e : read.entries) {
      if (e.seq <= after || e.seq > read.applied) continue;
      if (first && e.prev > after) out.lost = true;
      first = false;
      out.events.push_back(std::move(e));
    }
    if (first && read.applied > after) out.lost = true;
  }
  std::sort(out.events.begin(), out.events.end(),
            [](const wire_event& a, const wire_event& b) { return a.seq < b.seq; });
  return out;
}

/// A Redis address, from "redis://HOST[:PORT][/DB]" (what hub_server's
/// --redis takes). The host may be a name, an IPv4 address or a bracketed
/// IPv6 one; the port defaults to 6379 and the database to 0.
struct address {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  unsigned db = 0;
};

inline std::optional<address> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  url.remove_prefix(scheme.size());
  address a;
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    const auto db = http::parse_decimal<unsigned>(url.substr(slash + 1));
    if (!db) return std::nullopt;
    a.db = *db;
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = std::string(authority.substr(1, close - 1));
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    const auto colon = authority.find(':');
    a.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (a.host.empty() || a.host.find_first_of("@/?#") != std::string::npos) return std::nullopt;
  if (!port.empty()) {
    const auto p = http::parse_decimal<std::uint16_t>(port);
    if (!p || *p == 0) return std::nullopt;
    a.port = *p;
  }
  return a;
}

}  // namespace ssepp::redis
