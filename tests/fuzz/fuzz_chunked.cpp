// Fuzz target for ssepp::http::chunked_decoder. The bytes are fed whole,
// one byte at a time, cut at fuzzed points and in a fuzzed stride: every
// way must give the same body and the same final result, and match a plain
// model of RFC 9112 section 7.1 with chunked.hpp's documented extensions
// (bare LF line ends, extensions ignored, trailers skipped) and limits.
// Data is never handed out empty, never more than was fed; a decoder that
// is done or failed reads nothing more.
//
// Input layout (see README.md):
//   [0]  flags: bit 0 small limits from [1] and [2]; bits 4-7 stride - 2
//   [1]  max_size_line when bit 0 is set
//   [2]  max_trailer_line when bit 0 is set
//   [3..6]  four cut points, each as a fraction [k]/255 of the body
//   [7..]   the chunked body
// A shorter input reads as if padded with zero bytes.
#include <ssepp/http/chunked.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_oracle.hpp"
#include "oracle.hpp"

namespace {

namespace http = ssepp::http;
using result = http::chunked_decoder::result;
using ssepp_fuzz::escaped;

struct outcome {
  result last = result::more;  // what the last feed said
  std::string body;
  friend bool operator==(const outcome& a, const outcome& b) {
    return a.last == b.last && a.body == b.body;
  }
};

const char* name(result r) {
  return r == result::more ? "more" : r == result::done ? "done" : "malformed";
}

outcome decode(std::string_view in, const std::vector<std::size_t>& cuts,
               const http::chunked_limits& limits) {
  http::chunked_decoder d(limits);
  outcome o;
  std::size_t at = 0, fed = 0;
  bool finished = false;
  const auto feed_to = [&](std::size_t to) {
    const std::string_view piece = in.substr(at, to - at);
    at = to;
    const std::size_t before = o.body.size();
    const result r = d.feed(piece, [&](std::string_view data) {
      SSEPP_FUZZ_CHECK(!data.empty());
      // A view into what was just fed, never a copy of earlier bytes.
      SSEPP_FUZZ_CHECK(data.data() >= piece.data() &&
                       data.data() + data.size() <= piece.data() + piece.size());
      o.body.append(data);
    });
    if (finished) {
      // Done or failed: the decoder stays so and reads nothing more.
      SSEPP_FUZZ_CHECK(r == o.last && o.body.size() == before);
    } else {
      fed += piece.size();
      SSEPP_FUZZ_CHECK(o.body.size() <= fed);
    }
    finished = r != result::more;
    o.last = r;
  };
  for (const std::size_t cut : cuts) feed_to(cut);
  feed_to(in.size());
  // More bytes after the end change nothing either.
  if (finished) {
    const std::size_t before = o.body.size();
    SSEPP_FUZZ_CHECK(d.feed("5\r\nhello\r\n0\r\n\r\n", [&](std::string_view) {
      ssepp_fuzz::fail(__FILE__, __LINE__, "data after the end");
    }) == o.last);
    SSEPP_FUZZ_CHECK(o.body.size() == before);
  }
  return o;
}

// The model: the whole body at once, a line at a time.
class model {
 public:
  model(std::string_view in, const http::chunked_limits& limits) : in_(in), limits_(limits) {}

  outcome run() {
    outcome o;
    o.last = decode(o.body);
    return o;
  }

 private:
  // The next line, without its LF; nullopt when the LF has not come (the
  // line so far is then in `partial`).
  std::optional<std::string_view> line(std::string_view& partial) {
    const std::size_t lf = in_.find('\n', at_);
    if (lf == std::string_view::npos) {
      partial = in_.substr(at_);
      at_ = in_.size();
      return std::nullopt;
    }
    const std::string_view l = in_.substr(at_, lf - at_);
    at_ = lf + 1;
    return l;
  }

  // A size line: 1*HEXDIG, then BWS and extensions; the line end CRLF or
  // LF. A CR or NUL anywhere else fails.
  static std::optional<std::uint64_t> size(std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (ssepp_fuzz::has_any_of(l, std::string_view("\r\0", 2))) return std::nullopt;
    l = l.substr(0, l.find(';'));
    while (!l.empty() && ssepp_fuzz::is_blank(l.back())) l.remove_suffix(1);
    if (l.empty()) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : l) {
      const int v = ssepp_fuzz::hex_value(c);
      if (v < 0 || n >> 60 != 0) return std::nullopt;
      n = n * 16 + static_cast<std::uint64_t>(v);
    }
    return n;
  }

  result decode(std::string& body) {
    for (;;) {
      std::string_view partial;
      const auto size_line = line(partial);
      if (!size_line)
        return partial.size() > limits_.max_size_line ? result::malformed : result::more;
      if (size_line->size() > limits_.max_size_line) return result::malformed;
      const auto n = size(*size_line);
      if (!n) return result::malformed;
      if (*n == 0) break;
      const std::uint64_t left = in_.size() - at_;
      if (*n > left) {
        body.append(in_.substr(at_));
        return result::more;
      }
      body.append(in_.substr(at_, static_cast<std::size_t>(*n)));
      at_ += static_cast<std::size_t>(*n);
      // CRLF or LF after the data.
      if (at_ < in_.size() && in_[at_] == '\r') ++at_;
      if (at_ == in_.size()) return result::more;
      if (in_[at_] != '\n') return result::malformed;
      ++at_;
    }
    // Trailer lines, skipped, up to the blank one.
    for (;;) {
      std::string_view partial;
      const auto trailer = line(partial);
      if (!trailer)
        return partial.size() > limits_.max_trailer_line ? result::malformed : result::more;
      if (trailer->size() > limits_.max_trailer_line) return result::malformed;
      if (trailer->empty() || *trailer == "\r") return result::done;
    }
  }

  std::string_view in_;
  http::chunked_limits limits_;
  std::size_t at_ = 0;
};

void print(const char* title, const outcome& o) {
  std::fprintf(stderr, "%s: %s, body %s\n", title, name(o.last), escaped(o.body).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  const ssepp_fuzz::controls c(input, size, 7);
  const std::string_view in = c.rest();
  http::chunked_limits limits;
  if (c.bit(0, 0)) {
    limits.max_size_line = c[1];
    limits.max_trailer_line = c[2];
  }

  const outcome whole = decode(in, {}, limits);
  const outcome expected = model(in, limits).run();
  if (!(whole == expected)) {
    print("decoder", whole);
    print("model", expected);
    SSEPP_FUZZ_CHECK(whole == expected);
  }
  SSEPP_FUZZ_CHECK(whole.body.size() <= in.size());

  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < in.size(); ++i) bytes.push_back(i);
  const struct {
    const char* name;
    std::vector<std::size_t> cuts;
  } chunkings[] = {
      {"one byte at a time", bytes},
      {"cut at fuzzed points", ssepp_fuzz::cut_points(in.size(), {c[3], c[4], c[5], c[6]})},
      {"strided", ssepp_fuzz::strided(in.size(), (c[0] >> 4) + 2u)},
  };
  for (const auto& chunking : chunkings) {
    const outcome split = decode(in, chunking.cuts, limits);
    if (!(split == whole)) {
      print("whole", whole);
      print(chunking.name, split);
      SSEPP_FUZZ_CHECK(split == whole);
    }
  }
  return 0;
}
