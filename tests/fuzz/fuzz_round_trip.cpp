// Fuzz target for format -> parse. An event built from fuzz bytes is either
// refused for a reason it really has (and nothing is written), or formatted
// into bytes that a parser turns back into exactly that event. The same
// event formatted into a fixed_buffer_sink of fuzzed capacity either fits
// byte for byte or is refused whole. Comments and lone retry fields get the
// same treatment.
//
// Input layout (see README.md):
//   [0]      flags: bit 0 the event has a retry; bit 1 make that retry
//            non-negative; bit 2 fixed sink capacity near the exact size
//            (formatted size - 2 + [1] % 5) instead of [1]
//   [1]      fixed sink capacity
//   [2]      length of the event type
//   [3]      length of the id
//   [4..11]  retry in milliseconds, little-endian two's complement
//   [12..]   type, then id, then data (lengths clamp to what is left)
// A shorter input reads as if padded with zero bytes.
#include <ssepp/format.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ssepp/parser.hpp>
#include <ssepp/sink.hpp>

#include "oracle.hpp"

namespace {

using ssepp_fuzz::escaped;

struct parsed {
  std::vector<ssepp::event> events;  // retry unused; id holds the last event ID
  std::vector<std::chrono::milliseconds> retries;
  std::vector<std::string> comments;
  std::error_code error;
  std::string last_event_id;
};

struct recorder {
  parsed* out;
  void on_event(const ssepp::message& m) {
    out->events.push_back(
        {std::string(m.data), std::string(m.type), std::string(m.last_event_id), {}});
  }
  void on_retry(std::chrono::milliseconds ms) { out->retries.push_back(ms); }
  void on_comment(std::string_view text) { out->comments.emplace_back(text); }
};

// A reconnecting client's ID: an event without `id` must leave it alone.
constexpr std::string_view previous_id = "previous";

parsed parse(std::string_view bytes, ssepp::text_mode mode) {
  parsed result;
  ssepp::parser_options options;
  options.text = mode;
  ssepp::parser<recorder> p{recorder{&result}, options};
  p.set_last_event_id(previous_id);
  result.error = p.feed(bytes);
  result.last_event_id = std::string(p.last_event_id());
  return result;
}

// The lines of `text` as the format sees them: split at CRLF, LF or CR.
std::vector<std::string> lines(std::string_view text) {
  std::vector<std::string> out(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' || text[i] == '\n') {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out.emplace_back();
    } else {
      out.back() += text[i];
    }
  }
  return out;
}

std::string normalise_line_breaks(std::string_view text) {
  std::string out;
  for (const std::string& line : lines(text)) out += line + '\n';
  out.pop_back();
  return out;
}

bool has_cr_or_lf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// Formats through `format_into` into a fixed_buffer_sink of `capacity`
// bytes, twice, and checks each call against the std::string result:
// the same error, or the same bytes when they fit, or sink_full and nothing
// written when they do not.
template <class Format>
void check_fixed_sink(const std::string& expected, std::error_code expected_error,
                      std::size_t capacity, Format&& format_into) {
  // Exactly `capacity` bytes on the heap, so ASan sees any write past them.
  const std::unique_ptr<char[]> storage(new char[capacity]);
  ssepp::fixed_buffer_sink sink(storage.get(), capacity);
  std::string written;
  for (int round = 0; round < 2; ++round) {
    const std::size_t room = sink.remaining();
    const std::error_code ec = format_into(sink);
    if (expected_error) {
      SSEPP_FUZZ_CHECK(ec == expected_error);
    } else if (expected.size() > room) {
      SSEPP_FUZZ_CHECK(ec == ssepp::errc::sink_full);
    } else {
      SSEPP_FUZZ_CHECK(!ec);
      written += expected;
    }
    SSEPP_FUZZ_CHECK(sink.view() == written);
    SSEPP_FUZZ_CHECK(sink.size() + sink.remaining() == capacity);
  }
}

void check_event(const ssepp::event& ev, std::size_t capacity_byte, bool near_exact) {
  std::string out = "unchanged";
  const std::error_code ec = ssepp::format(out, ev);

  // A refusal must name a problem the event really has; an event without
  // one must be accepted.
  const bool bad_type = has_cr_or_lf(ev.type);
  const bool bad_id = has_cr_or_lf(ev.id) || ev.id.find('\0') != std::string::npos;
  const bool bad_retry = ev.retry && ev.retry->count() < 0;
  SSEPP_FUZZ_CHECK(!ec == !(bad_type || bad_id || bad_retry));
  SSEPP_FUZZ_CHECK(!ec || (ec == ssepp::errc::invalid_event_type && bad_type) ||
                   (ec == ssepp::errc::invalid_event_id && bad_id) ||
                   (ec == ssepp::errc::invalid_retry && bad_retry));
  SSEPP_FUZZ_CHECK(ec == ssepp::validate(ev));
  SSEPP_FUZZ_CHECK(out.substr(0, 9) == "unchanged");
  out.erase(0, 9);
  if (ec) {
    SSEPP_FUZZ_CHECK(out.empty());
    bool threw = false;
    try {
      (void)ssepp::to_string(ev);
    } catch (const std::system_error& e) {
      threw = e.code() == ec;
    }
    SSEPP_FUZZ_CHECK(threw);
  } else {
    SSEPP_FUZZ_CHECK(out.size() == ssepp::formatted_size(ev));
    SSEPP_FUZZ_CHECK(ssepp::to_string(ev) == out);

    for (const auto mode : {ssepp::text_mode::raw, ssepp::text_mode::replace_invalid}) {
      // In replace_invalid mode the parser shows what a browser would: the
      // WHATWG decoding of the bytes (the bytes themselves when valid).
      const bool raw = mode == ssepp::text_mode::raw;
      auto text = [raw](std::string_view s) {
        return raw ? std::string(s) : ssepp_fuzz::decode_replacing(s);
      };
      const parsed back = parse(out, mode);
      const std::string type = ev.type.empty() ? std::string("message") : text(ev.type);
      const std::string data = text(normalise_line_breaks(ev.data));
      const std::string id = ev.id.empty() ? std::string(previous_id) : text(ev.id);
      const bool ok = !back.error && back.events.size() == 1 && back.events[0].type == type &&
                      back.events[0].data == data && back.events[0].id == id &&
                      back.last_event_id == id && back.comments.empty() &&
                      back.retries.size() == (ev.retry ? 1u : 0u) &&
                      (!ev.retry || back.retries[0] == *ev.retry);
      if (!ok) {
        std::fprintf(stderr, "%s mode\nformatted: %s\nexpected type=%s data=%s id=%s\n",
                     raw ? "raw" : "replace_invalid", escaped(out).c_str(), escaped(type).c_str(),
                     escaped(data).c_str(), escaped(id).c_str());
        for (const auto& e : back.events)
          std::fprintf(stderr, "parsed type=%s data=%s id=%s\n", escaped(e.type).c_str(),
                       escaped(e.data).c_str(), escaped(e.id).c_str());
        std::fprintf(stderr, "events %zu, retries %zu, comments %zu, error %s\n",
                     back.events.size(), back.retries.size(), back.comments.size(),
                     back.error.message().c_str());
        SSEPP_FUZZ_CHECK(ok);
      }
    }
  }

  std::size_t capacity = capacity_byte;
  if (near_exact) capacity = std::max<std::size_t>(out.size() + capacity_byte % 5, 2) - 2;
  check_fixed_sink(out, ec, capacity, [&](auto& sink) { return ssepp::format(sink, ev); });
}

// A comment comes back as one comment per line of its text, and nothing else.
void check_comment(std::string_view text, std::size_t capacity) {
  std::string out;
  SSEPP_FUZZ_CHECK(!ssepp::format_comment(out, text));
  const parsed back = parse(out, ssepp::text_mode::raw);
  SSEPP_FUZZ_CHECK(!back.error && back.events.empty() && back.retries.empty());
  SSEPP_FUZZ_CHECK(back.comments == lines(text));
  check_fixed_sink(out, {}, capacity,
                   [&](auto& sink) { return ssepp::format_comment(sink, text); });
}

void check_retry(std::chrono::milliseconds retry, std::size_t capacity) {
  std::string out;
  const std::error_code ec = ssepp::format_retry(out, retry);
  if (retry.count() < 0) {
    SSEPP_FUZZ_CHECK(ec == ssepp::errc::invalid_retry && out.empty());
  } else {
    SSEPP_FUZZ_CHECK(!ec);
    const parsed back = parse(out, ssepp::text_mode::raw);
    SSEPP_FUZZ_CHECK(!back.error && back.events.empty() && back.comments.empty());
    SSEPP_FUZZ_CHECK(back.retries.size() == 1 && back.retries[0] == retry);
  }
  check_fixed_sink(out, ec, capacity, [&](auto& sink) { return ssepp::format_retry(sink, retry); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  unsigned char header[12] = {};
  const std::size_t header_size = std::min(size, sizeof header);
  std::copy(input, input + header_size, header);
  std::string_view rest(reinterpret_cast<const char*>(input) + header_size, size - header_size);

  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < 8; ++i) bits |= std::uint64_t{header[4 + i]} << (8 * i);
  if (header[0] & 2u) bits &= ~(std::uint64_t{1} << 63);
  // Two's complement reinterpretation, without relying on the cast's
  // implementation-defined behaviour before C++20.
  const auto retry = static_cast<std::int64_t>(bits >> 63 ? -static_cast<std::int64_t>(~bits) - 1
                                                          : static_cast<std::int64_t>(bits));

  ssepp::event ev;
  const std::size_t type_size = std::min<std::size_t>(header[2], rest.size());
  ev.type = std::string(rest.substr(0, type_size));
  rest.remove_prefix(type_size);
  const std::size_t id_size = std::min<std::size_t>(header[3], rest.size());
  ev.id = std::string(rest.substr(0, id_size));
  rest.remove_prefix(id_size);
  ev.data = std::string(rest);
  const std::chrono::milliseconds ms(static_cast<std::chrono::milliseconds::rep>(retry));
  if (header[0] & 1u) ev.retry = ms;

  check_event(ev, header[1], (header[0] & 4u) != 0);
  check_comment(ev.data, header[1]);
  check_retry(ms, header[1]);
  return 0;
}
