// Fuzz target for ssepp::parser. One input is a stream plus a few control
// bytes; the stream is parsed whole, one byte at a time, cut at fuzzed
// points and in fuzzed strides, and every way must report the same events,
// retries, comments, error and last event ID. The whole parse must also
// equal a plain model of the WHATWG "parse/interpret an event stream" steps
// (decode, split into lines, process fields), limits included.
//
// Input layout (see README.md):
//   [0]     flags: bit 0 text_mode::raw (else replace_invalid);
//           bit 1 small limits from [1] and [2]; bit 2 reset() at [3];
//           bit 3 start from set_last_event_id("seed"); bits 4-7 stride - 2
//   [1]     max_line_size when bit 1 is set
//   [2]     max_event_size when bit 1 is set
//   [3]     where reset() happens, as a fraction [3]/255 of the stream
//   [4..7]  four cut points, each as a fraction [k]/255 of the stream
//   [8..]   the stream
// A shorter input reads as if padded with zero bytes.
#include <ssepp/parser.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "oracle.hpp"

namespace {

using ssepp_fuzz::escaped;

struct report {
  enum kind_type : unsigned char { event, retry, comment, reset } kind;
  std::string type;       // event
  std::string data;       // event; comment text
  std::string id;         // event: its last event ID; reset: last_event_id()
  std::int64_t ms;        // retry
  std::error_code error;  // reset: error() just before it

  friend bool operator==(const report& a, const report& b) {
    return a.kind == b.kind && a.type == b.type && a.data == b.data && a.id == b.id &&
           a.ms == b.ms && a.error == b.error;
  }
};

struct outcome {
  std::vector<report> reports;
  std::error_code error;
  std::string last_event_id;

  friend bool operator==(const outcome& a, const outcome& b) {
    return a.reports == b.reports && a.error == b.error && a.last_event_id == b.last_event_id;
  }
};

void print(const char* title, const outcome& o) {
  std::fprintf(stderr, "%s:\n", title);
  for (const report& r : o.reports) {
    switch (r.kind) {
      case report::event:
        std::fprintf(stderr, "  event type=%s data=%s id=%s\n", escaped(r.type).c_str(),
                     escaped(r.data).c_str(), escaped(r.id).c_str());
        break;
      case report::retry:
        std::fprintf(stderr, "  retry %lld\n", static_cast<long long>(r.ms));
        break;
      case report::comment:
        std::fprintf(stderr, "  comment %s\n", escaped(r.data).c_str());
        break;
      case report::reset:
        std::fprintf(stderr, "  reset (error: %s, last_event_id=%s)\n",
                     r.error ? r.error.message().c_str() : "none", escaped(r.id).c_str());
        break;
    }
  }
  std::fprintf(stderr, "  error: %s\n  last_event_id: %s\n",
               o.error ? o.error.message().c_str() : "none", escaped(o.last_event_id).c_str());
}

struct recorder {
  std::vector<report>* out;
  void on_event(const ssepp::message& m) {
    out->push_back({report::event,
                    std::string(m.type),
                    std::string(m.data),
                    std::string(m.last_event_id),
                    0,
                    {}});
  }
  void on_retry(std::chrono::milliseconds ms) {
    out->push_back({report::retry, {}, {}, {}, static_cast<std::int64_t>(ms.count()), {}});
  }
  void on_comment(std::string_view text) {
    out->push_back({report::comment, {}, std::string(text), {}, 0, {}});
  }
};

struct setup {
  ssepp::parser_options options;
  std::size_t reset_at = std::string_view::npos;  // npos: no reset
  bool seed_id = false;
};

constexpr std::string_view seed_id = "seed";

// Feeds `stream` to a fresh parser in the chunks that `cuts` (sorted stream
// positions; repeats feed empty chunks) make, with reset() at s.reset_at.
outcome run(std::string_view stream, std::vector<std::size_t> cuts, const setup& s) {
  if (s.reset_at != std::string_view::npos) {
    cuts.insert(std::upper_bound(cuts.begin(), cuts.end(), s.reset_at), s.reset_at);
  }
  outcome o;
  ssepp::parser<recorder> p{recorder{&o.reports}, s.options};
  if (s.seed_id) p.set_last_event_id(seed_id);
  bool reset_done = false;
  auto maybe_reset = [&](std::size_t at) {
    if (reset_done || at != s.reset_at) return;
    reset_done = true;
    o.reports.push_back({report::reset, {}, {}, std::string(p.last_event_id()), 0, p.error()});
    p.reset();
    SSEPP_FUZZ_CHECK(!p.error());
  };
  std::size_t at = 0;
  auto feed_to = [&](std::size_t to) {
    maybe_reset(at);
    const std::error_code before = p.error();
    const std::size_t reported = o.reports.size();
    const std::error_code ec = p.feed(stream.substr(at, to - at));
    SSEPP_FUZZ_CHECK(ec == p.error());
    if (before) {
      // A failed parser reads nothing until reset() and keeps its error.
      SSEPP_FUZZ_CHECK(ec == before);
      SSEPP_FUZZ_CHECK(o.reports.size() == reported);
    }
    at = to;
  };
  for (const std::size_t cut : cuts) feed_to(cut);
  feed_to(stream.size());
  maybe_reset(at);
  o.error = p.error();
  o.last_event_id = std::string(p.last_event_id());

  // The last event ID outlives reset(): a reconnect resumes from it.
  if (s.options.max_line_size >= 4) {
    std::vector<report> after;
    p.handler().out = &after;
    p.reset();
    SSEPP_FUZZ_CHECK(!p.feed("data\n\n"));
    SSEPP_FUZZ_CHECK(after.size() == 1);
    SSEPP_FUZZ_CHECK(after[0].kind == report::event && after[0].type == "message" &&
                     after[0].data.empty() && after[0].id == o.last_event_id);
  }
  return o;
}

// The model: the spec's steps written as plainly as possible, one stream
// (connection) at a time, with ssepp's documented limits and extensions
// (empty `retry` means default_retry; huge retry values saturate).
class model {
 public:
  explicit model(const setup& s) : s_(s) {
    if (s.seed_id) last_event_id_ = std::string(seed_id);
  }

  // One connection from its first byte to its end (or reset()).
  void connection(std::string_view bytes) {
    error_ = {};
    constexpr std::string_view bom = "\xEF\xBB\xBF";
    if (bytes.substr(0, 3) == bom) {
      bytes.remove_prefix(3);
    } else if (bytes.size() < 3 && bom.substr(0, bytes.size()) == bytes) {
      return;  // maybe the start of a BOM: the parser waits to know
    }
    id_buffer_ = last_event_id_;
    data_.clear();
    type_.clear();
    std::size_t start = 0;
    while (!error_) {
      const std::size_t eol = bytes.find_first_of("\r\n", start);
      const std::size_t end = eol == std::string_view::npos ? bytes.size() : eol;
      if (end - start > s_.options.max_line_size) {
        error_ = ssepp::errc::line_too_long;
        break;
      }
      if (eol == std::string_view::npos) break;  // unterminated: discarded
      const std::string_view raw = bytes.substr(start, end - start);
      line(s_.options.text == ssepp::text_mode::raw ? std::string(raw)
                                                    : ssepp_fuzz::decode_replacing(raw));
      start = eol + 1;
      if (bytes[eol] == '\r' && start < bytes.size() && bytes[start] == '\n') ++start;
    }
  }

  void reset_marker() {
    result_.reports.push_back({report::reset, {}, {}, last_event_id_, 0, error_});
  }

  outcome result() {
    result_.error = error_;
    result_.last_event_id = last_event_id_;
    return result_;
  }

 private:
  void line(const std::string& l) {
    if (l.empty()) return dispatch();
    if (l[0] == ':') {
      std::string text = l.substr(1);
      if (!text.empty() && text[0] == ' ') text.erase(0, 1);
      result_.reports.push_back({report::comment, {}, text, {}, 0, {}});
      return;
    }
    std::string name = l, value;
    const std::size_t colon = l.find(':');
    if (colon != std::string::npos) {
      name = l.substr(0, colon);
      value = l.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    }
    if (name == "event") {
      type_ = value;
    } else if (name == "data") {
      // The joined data would be data_ (each line plus LF) followed by value.
      if (data_.size() + value.size() > s_.options.max_event_size) {
        error_ = ssepp::errc::event_too_large;
        return;
      }
      data_ += value;
      data_ += '\n';
    } else if (name == "id") {
      if (value.find('\0') == std::string::npos) id_buffer_ = value;
    } else if (name == "retry") {
      if (value.empty()) {
        result_.reports.push_back({report::retry,
                                   {},
                                   {},
                                   {},
                                   static_cast<std::int64_t>(s_.options.default_retry.count()),
                                   {}});
      } else if (value.find_first_not_of("0123456789") == std::string::npos) {
        result_.reports.push_back({report::retry, {}, {}, {}, saturating_decimal(value), {}});
      }
    }
  }

  void dispatch() {
    last_event_id_ = id_buffer_;
    if (data_.empty()) {
      type_.clear();
      return;
    }
    data_.pop_back();
    result_.reports.push_back({report::event,
                               type_.empty() ? std::string("message") : type_,
                               data_,
                               last_event_id_,
                               0,
                               {}});
    data_.clear();
    type_.clear();
  }

  static std::int64_t saturating_decimal(std::string digits) {
    using rep = std::chrono::milliseconds::rep;
    const std::string max = std::to_string(std::numeric_limits<rep>::max());
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
    if (digits.size() > max.size() || (digits.size() == max.size() && digits > max))
      return static_cast<std::int64_t>(std::numeric_limits<rep>::max());
    return static_cast<std::int64_t>(std::stoll(digits));
  }

  const setup& s_;
  outcome result_;
  std::error_code error_;
  std::string last_event_id_, id_buffer_, data_, type_;
};

std::size_t fraction(std::size_t size, unsigned char k) { return size * k / 255; }

void check_invariants(const outcome& o, const setup& s) {
  const bool replace = s.options.text == ssepp::text_mode::replace_invalid;
  for (const report& r : o.reports) {
    if (r.kind == report::event) {
      SSEPP_FUZZ_CHECK(r.data.size() <= s.options.max_event_size);
      SSEPP_FUZZ_CHECK(!r.type.empty());
    }
    if (replace) {
      SSEPP_FUZZ_CHECK(ssepp_fuzz::is_valid_utf8(r.type));
      SSEPP_FUZZ_CHECK(ssepp_fuzz::is_valid_utf8(r.data));
      SSEPP_FUZZ_CHECK(ssepp_fuzz::is_valid_utf8(r.id));
    }
  }
  if (replace) SSEPP_FUZZ_CHECK(ssepp_fuzz::is_valid_utf8(o.last_event_id));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  unsigned char header[8] = {};
  const std::size_t header_size = std::min(size, sizeof header);
  std::copy(input, input + header_size, header);
  const std::string_view stream(reinterpret_cast<const char*>(input) + header_size,
                                size - header_size);

  setup s;
  if (header[0] & 1u) s.options.text = ssepp::text_mode::raw;
  if (header[0] & 2u) {
    s.options.max_line_size = header[1];
    s.options.max_event_size = header[2];
  }
  if (header[0] & 4u) s.reset_at = fraction(stream.size(), header[3]);
  s.seed_id = (header[0] & 8u) != 0;
  const std::size_t stride = static_cast<std::size_t>(header[0] >> 4) + 2;

  const outcome whole = run(stream, {}, s);
  check_invariants(whole, s);

  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < stream.size(); ++i) bytes.push_back(i);
  std::vector<std::size_t> points;
  for (std::size_t k = 4; k < 8; ++k) points.push_back(fraction(stream.size(), header[k]));
  std::sort(points.begin(), points.end());
  std::vector<std::size_t> strided;
  for (std::size_t i = stride; i < stream.size(); i += stride) strided.push_back(i);

  const struct {
    const char* name;
    const std::vector<std::size_t>& cuts;
  } chunkings[] = {
      {"one byte at a time", bytes}, {"cut at fuzzed points", points}, {"strided", strided}};
  for (const auto& chunking : chunkings) {
    const outcome split = run(stream, chunking.cuts, s);
    if (!(split == whole)) {
      print("whole", whole);
      print(chunking.name, split);
      SSEPP_FUZZ_CHECK(split == whole);
    }
  }

  model m(s);
  if (s.reset_at == std::string_view::npos) {
    m.connection(stream);
  } else {
    m.connection(stream.substr(0, s.reset_at));
    m.reset_marker();
    m.connection(stream.substr(s.reset_at));
  }
  const outcome expected = m.result();
  if (!(expected == whole)) {
    print("model", expected);
    print("parser", whole);
    SSEPP_FUZZ_CHECK(expected == whole);
  }
  return 0;
}
