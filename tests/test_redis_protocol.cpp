// The Redis backplane's decisions, without Redis: ids, messages and stream
// entries as the scripts make them, live events applied by sequence, and
// where a resume comes from.
#include <ssepp/redis/protocol.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace ssepp::redis;

namespace {
wire_event ev(std::string epoch, std::uint64_t seq, std::uint64_t prev) {
  return wire_event{std::move(epoch), seq, prev, "t", "d" + std::to_string(seq)};
}
std::vector<std::uint64_t> seqs(const std::vector<wire_event>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}
using seq_list = std::vector<std::uint64_t>;
}  // namespace

TEST_CASE("an id is the epoch and the sequence, and parses back") {
  CHECK(format_id("k3x9", 42) == "k3x9-42");
  const auto id = parse_id("k3x9-42");
  REQUIRE(id);
  CHECK(id->epoch == "k3x9");
  CHECK(id->seq == 42);
}

TEST_CASE("what the backplane never assigns is not one of its ids") {
  for (const char* s : {"", "42", "-42", "k3x9-", "k3x9-0", "k3x9-4x", "K3X9-1", "a b-1",
                        "k3x9-18446744073709551616", "k3x9--1"})
    CHECK_MESSAGE(!parse_id(s), s);
}

TEST_CASE("a pub/sub message carries a publish's events: epoch, sequences, types and data") {
  const auto events = parse_message("k3x9\n42\n40\n2\nupdate\n17\nline one\nline two\n\n0\n");
  REQUIRE(events.size() == 2);
  CHECK(events[0].epoch == "k3x9");
  CHECK(events[0].seq == 42);
  CHECK(events[0].prev == 40);
  CHECK(events[0].type == "update");
  CHECK(events[0].data == "line one\nline two");
  CHECK(events[0].id() == "k3x9-42");
  // The next one follows it: seq 43, prev 42, default type, empty data.
  CHECK(events[1].seq == 43);
  CHECK(events[1].prev == 42);
  CHECK(events[1].type.empty());
  CHECK(events[1].data.empty());
}

TEST_CASE("a malformed message gives no events") {
  for (const char* s :
       {"", "k3x9\n42\n40\n1\nupdate", "\n42\n40\n1\nt\n1\nd", "k3x9\nx\n40\n1\nt\n1\nd",
        "k3x9\n0\n0\n1\nt\n1\nd", "k3x9\n42\n-1\n1\nt\n1\nd", "k3x9\n42\n40\n0\n",
        "k3x9\n42\n40\n1\nt\n5\nd",           // data shorter than its size
        "k3x9\n42\n40\n1\nt\n1\ndd",          // longer
        "k3x9\n42\n40\n2\nt\n1\nd",           // an event missing
        "k3x9\n42\n40\n2\nt\n1\ndXt\n1\nd"})  // no separator
    CHECK_MESSAGE(parse_message(s).empty(), s);
}

TEST_CASE("a stream entry gives its sequence from its id and the rest from its fields") {
  const auto e = parse_entry(
      "42-0", {{"e", "k3x9"}, {"p", "40"}, {"m", "1700000000000"}, {"t", "update"}, {"d", "x"}});
  REQUIRE(e);
  CHECK(e->seq == 42);
  CHECK(e->prev == 40);
  CHECK(e->epoch == "k3x9");
  CHECK(e->type == "update");
  CHECK(e->data == "x");
  CHECK_FALSE(parse_entry("42-0", {{"p", "40"}, {"d", "x"}}));
  CHECK_FALSE(parse_entry("x-0", {{"e", "k"}, {"p", "40"}, {"d", "x"}}));
  CHECK_FALSE(parse_entry("42-0", {{"e", "k"}, {"p", "z"}, {"d", "x"}}));
}

TEST_CASE("key names live under the prefix, and a pub/sub name maps back to its channel") {
  key_names keys{"app:"};
  CHECK(keys.meta() == "app:meta");
  CHECK(keys.stream("news") == "app:s:news");
  CHECK(keys.pubsub("news") == "app:c:news");
  CHECK(keys.channel_of_pubsub("app:c:news") == std::optional<std::string>("news"));
  CHECK_FALSE(keys.channel_of_pubsub("other:c:news"));
  CHECK_FALSE(keys.channel_of_pubsub("app:c:"));
}

TEST_CASE("the next live event is applied, an older one dropped, a jump fills the hole") {
  const channel_position at{"k", 10};
  CHECK(on_live_event(at, ev("k", 11, 10)) == live_action::apply);
  // Sequences count every channel: a jump whose previous event is the one
  // applied last is no hole.
  CHECK(on_live_event(at, ev("k", 17, 10)) == live_action::apply);
  CHECK(on_live_event(at, ev("k", 10, 8)) == live_action::drop);
  CHECK(on_live_event(at, ev("k", 9, 8)) == live_action::drop);
  CHECK(on_live_event(at, ev("k", 14, 12)) == live_action::fill_hole);
  CHECK(on_live_event(at, ev("j", 3, 0)) == live_action::new_epoch);
}

TEST_CASE("a catch-up applies what came after the position, and all of a new epoch") {
  const channel_position at{"k", 10};
  CHECK(seqs(new_entries(at, "k", {ev("k", 9, 8), ev("k", 10, 9), ev("k", 12, 10)})) ==
        seq_list{12});
  // Redis went back to an older snapshot and numbers anew under "n": its
  // events may reuse sequences the node applied under "k".
  CHECK(seqs(new_entries(at, "n", {ev("k", 8, 7), ev("n", 9, 8), ev("n", 10, 9)})) ==
        seq_list{9, 10});
  // A third epoch's leftovers are neither.
  CHECK(seqs(new_entries(at, "n", {ev("z", 11, 0), ev("n", 12, 11)})) == seq_list{12});
}

TEST_CASE("a resume comes from the hub's history when it holds the id") {
  CHECK(decide_resume("", false, "k", true).kind == resume_kind::live);
  CHECK(decide_resume("k-5", true, "k", true).kind == resume_kind::local);
  // Even with Redis down: the node's own history is enough.
  CHECK(decide_resume("k-5", true, "k", false).kind == resume_kind::local);
}

TEST_CASE("a resume the hub cannot serve reads Redis after the id's sequence") {
  const auto d = decide_resume("k-5", false, "k", true);
  CHECK(d.kind == resume_kind::from_redis);
  CHECK(d.after == 5);
}

TEST_CASE("an id of another epoch, or none of the backplane's, gets the gap event") {
  CHECK(decide_resume("j-5", false, "k", true).gap_reason == "unknown");
  CHECK(decide_resume("p3", false, "k", true).gap_reason == "unknown");
  CHECK(decide_resume("k-5", false, "k", false).gap_reason == "unavailable");
  CHECK(decide_resume("k-5", false, "", true).gap_reason == "unavailable");
  CHECK(decide_resume("j-5", false, "k", true).kind == resume_kind::gap);
}

TEST_CASE("a replay from Redis merges the channels in sequence, up to what the node applied") {
  std::vector<channel_read> reads(2);
  reads[0] = {{ev("k", 6, 4), ev("k", 9, 6), ev("k", 12, 9)}, 9};
  reads[1] = {{ev("k", 7, 3), ev("k", 8, 7)}, 8};
  const auto r = plan_redis_replay(5, reads);
  CHECK(seqs(r.events) == seq_list{6, 7, 8, 9});
  CHECK_FALSE(r.lost);
}

TEST_CASE("a replay from Redis is lost where the stream no longer holds what followed the id") {
  SUBCASE("the first entry after the id follows one that is gone") {
    std::vector<channel_read> reads{{{ev("k", 9, 7), ev("k", 11, 9)}, 11}};
    CHECK(plan_redis_replay(5, reads).lost);
  }
  SUBCASE("the stream holds nothing after the id, but the node applied an event there") {
    std::vector<channel_read> reads{{{}, 11}};
    CHECK(plan_redis_replay(5, reads).lost);
  }
  SUBCASE("nothing happened after the id") {
    std::vector<channel_read> reads{{{}, 5}};
    CHECK_FALSE(plan_redis_replay(5, reads).lost);
  }
}

TEST_CASE("a Redis URL gives host, port and database") {
  const auto a = parse_url("redis://10.0.0.7:6380/3");
  REQUIRE(a);
  CHECK(a->host == "10.0.0.7");
  CHECK(a->port == 6380);
  CHECK(a->db == 3);
  const auto b = parse_url("redis://cache.internal");
  REQUIRE(b);
  CHECK(b->host == "cache.internal");
  CHECK(b->port == 6379);
  CHECK(b->db == 0);
  const auto c = parse_url("redis://[::1]:7000");
  REQUIRE(c);
  CHECK(c->host == "::1");
  CHECK(c->port == 7000);
  for (const char* s : {"http://h:1", "redis://", "redis://h:", "redis://h:0", "redis://h:70000",
                        "redis://h/x", "redis://user@h", "redis://[::1", "redis://[::1]x"})
    CHECK_MESSAGE(!parse_url(s), s);
}
