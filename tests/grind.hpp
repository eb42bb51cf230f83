// Test helper: parse an input whole, split at every index (and at every pair
// of indices for short inputs), and one byte at a time; every way must give
// the same record, which is returned for the test to check against the spec.
// grind() does it for the event-stream parser, grind_with() for any other.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <ostream>  // doctest prints std::error_code through it
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ssepp/parser.hpp>

namespace ssepp_test {

// Everything a parser reported, in order, as readable strings:
//   event <type>|<data>|<last_event_id>, retry <ms>, comment <text>
struct record {
  std::vector<std::string> items;
  std::error_code error;
  std::string last_event_id;

  friend bool operator==(const record& a, const record& b) {
    return a.items == b.items && a.error == b.error && a.last_event_id == b.last_event_id;
  }
};

inline doctest::String toString(const record& r) {
  std::string s = "{";
  for (const auto& item : r.items) s += "\n  [" + item + "]";
  s += "\n  error: " + (r.error ? r.error.message() : std::string("none"));
  s += "\n  last_event_id: [" + r.last_event_id + "]\n}";
  return doctest::String(s.c_str());
}

struct recorder {
  std::vector<std::string>* items;
  void on_event(const ssepp::message& m) {
    items->push_back("event " + std::string(m.type) + "|" + std::string(m.data) + "|" +
                     std::string(m.last_event_id));
  }
  void on_retry(std::chrono::milliseconds ms) {
    items->push_back("retry " + std::to_string(ms.count()));
  }
  void on_comment(std::string_view text) { items->push_back("comment " + std::string(text)); }
};

// Parses `chunks` in order with a fresh parser and returns what it reported.
inline record parse_chunks(const std::vector<std::string_view>& chunks,
                           ssepp::parser_options options) {
  record r;
  ssepp::parser<recorder> p{recorder{&r.items}, options};
  for (const auto chunk : chunks) r.error = p.feed(chunk);
  r.last_event_id = std::string(p.last_event_id());
  return r;
}

inline record parse_whole(std::string_view input, ssepp::parser_options options = {}) {
  return parse_chunks({input}, options);
}

// The grind, for any incremental decoder: `decode(chunks)` runs a fresh
// decoder over the chunks in order and returns what it made of them (a
// value with == and a doctest printer). Every chunking must agree with the
// whole input; the whole input's record is returned for the test to check.
template <class Decode>
auto grind_with(std::string_view input, Decode&& decode)
    -> decltype(decode(std::vector<std::string_view>{})) {
  const auto whole = decode(std::vector<std::string_view>{input});
  for (std::size_t i = 0; i <= input.size(); ++i) {
    INFO("split at " << i);
    CHECK(decode(std::vector<std::string_view>{input.substr(0, i), input.substr(i)}) == whole);
  }
  if (input.size() <= 48) {
    for (std::size_t i = 0; i <= input.size(); ++i)
      for (std::size_t j = i; j <= input.size(); ++j) {
        INFO("split at " << i << " and " << j);
        CHECK(decode(std::vector<std::string_view>{input.substr(0, i), input.substr(i, j - i),
                                                   input.substr(j)}) == whole);
      }
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  INFO("one byte at a time");
  CHECK(decode(bytes) == whole);
  return whole;
}

// The grind of the event-stream parser.
inline record grind(std::string_view input, ssepp::parser_options options = {}) {
  return grind_with(input, [&](const std::vector<std::string_view>& chunks) {
    return parse_chunks(chunks, options);
  });
}

inline std::vector<std::string> events(std::initializer_list<const char*> items) {
  return {items.begin(), items.end()};
}

}  // namespace ssepp_test
