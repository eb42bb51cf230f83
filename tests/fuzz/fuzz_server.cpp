// Fuzz target for the server's whole request path: a
// ssepp::asio::basic_server<memory_stream> with an event-stream prefix, a
// publish prefix, CORS, an authorization hook and small limits serves one
// connection whose client writes the fuzzed bytes (in fuzzed pieces, the
// server reading in fuzzed sizes), shuts down its sending side and reads
// everything back; the io_context runs until nothing is left to do, with
// no real waiting (only handlers that are ready run; no timer is waited
// for).
//
// Checked: no crash, and no hang (the client reads to the end and the
// connection is gone once nothing is ready to run); the answer is empty (or
// only an interim 100 Continue) exactly when the bytes hold no complete
// request, and otherwise one HTTP/1.1 response (parse_response_head), after
// any 100 Continue, with Connection: close and a body of its Content-Length
// (none for HEAD or 204), or an event stream that ssepp::parser reads
// without error; a head that does not parse, a framing request_framing
// refuses, or a body over max_body_bytes (Content-Length, or decoded
// chunked) gets the status the parsers call for (431, 505, 400, 501, 413);
// and the heap the server holds stays within max_header_bytes +
// max_body_bytes, one read, the request's copies and a fixed allowance for
// the connection's own state, however many bytes the client sends.
//
// Input layout (see README.md):
//   [0]  flags: bit 0 the server reads at most [1] + 1 bytes at a time;
//        bit 1 the client writes in three pieces, cut at [2] and [3], and
//        the server runs between them; bit 2 the bytes are sent [4] % 16 + 1
//        times over (a flood, or pipelined requests)
//   [1]  the server's read size - 1, when bit 0 is set
//   [2..3]  cut points, each as a fraction [k]/255 of what is sent
//   [4]  repeat count, when bit 2 is set
//   [5..]   the bytes
// A shorter input reads as if padded with zero bytes.
#include <ssepp/asio/server.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ssepp/asio/memory_stream.hpp>
#include <ssepp/http/chunked.hpp>
#include <ssepp/http/framing.hpp>
#include <ssepp/http/head.hpp>
#include <ssepp/parser.hpp>

#include "http_oracle.hpp"
#include "oracle.hpp"

// The heap in use now, where the allocator can tell: ASan's count, else
// glibc's. Elsewhere the memory check is skipped.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SSEPP_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SSEPP_FUZZ_ASAN 1
#endif

#if defined(SSEPP_FUZZ_ASAN)
#include <sanitizer/allocator_interface.h>
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define SSEPP_FUZZ_MALLINFO2 1
#endif

namespace {

namespace asio = ssepp::asio;
namespace http = ssepp::http;
namespace net = ssepp::asio::net;
using ssepp_fuzz::escaped;

bool can_measure_heap() {
#if defined(SSEPP_FUZZ_ASAN) || defined(SSEPP_FUZZ_MALLINFO2)
  return true;
#else
  return false;
#endif
}

std::size_t heap_in_use() {
#if defined(SSEPP_FUZZ_ASAN)
  return __sanitizer_get_current_allocated_bytes();
#elif defined(SSEPP_FUZZ_MALLINFO2)
  return mallinfo2().uordblks;
#else
  return 0;
#endif
}

constexpr std::size_t max_header_bytes = 1024;
constexpr std::size_t max_body_bytes = 256;
// The connection reads 4096 bytes at a time (server.hpp's read_request).
constexpr std::size_t read_chunk = 4096;
// The connection, its timer, the parsed request (its fields and target
// copied out of the head), the decision, the response or the event stream's
// subscription, queue and head, the hub's channel and history entry, the
// handlers in flight: at most about twice the head and body, and a few KiB.
constexpr std::size_t allowance = max_header_bytes + max_body_bytes + read_chunk +
                                  2 * (max_header_bytes + max_body_bytes) + 24 * 1024;

asio::server_options options() {
  asio::server_options o;
  o.threads = 1;
  o.max_connections = 4;
  o.max_header_bytes = max_header_bytes;
  o.max_body_bytes = max_body_bytes;
  o.request_timeout = std::chrono::seconds{30};  // never reached: no timer is waited for
  // One request per connection, so one answer to judge (the oracle reads
  // one response); persistent connections are tested in test_rfc9112.
  o.max_requests_per_connection = 1;
  o.stop_grace = std::chrono::milliseconds{0};
  o.cors_origins = {"https://allowed.example"};
  o.events_prefix = "/events/";
  o.publish_prefix = "/publish/";
  o.authorize = [](const asio::request& req) {
    asio::auth_result r;
    if (req.path.compare(0, 9, "/private/") == 0 || req.cookie("deny")) r.status = 403;
    return r;
  };
  o.hub.history_events = 4;
  o.hub.history_bytes = 1024;
  o.hub.coalesce_window = std::chrono::microseconds{0};
  return o;
}

// What a run left behind.
struct run_result {
  std::string out;   // what the client read
  bool eof = false;  // its last read said the server closed
  std::size_t connections = 0;
  std::size_t peak = 0;  // heap the server held at most
};

// Runs every handler that is ready, noting the heap after each.
void run_ready(net::io_context& io, std::size_t baseline, std::size_t& attributed,
               std::size_t& peak) {
  while (io.poll_one() != 0) {
    if (!can_measure_heap()) continue;
    const std::size_t now = heap_in_use();
    if (now > baseline + attributed) peak = std::max(peak, now - baseline - attributed);
  }
}

run_result serve(const std::string& sent, const std::vector<std::size_t>& cuts,
                 std::size_t read_size) {
  run_result r;
  asio::basic_server<asio::memory_stream> server(options());
  auto& io = server.get_executor().context();
  {
    // Not a structured binding: C++17 lambdas cannot capture one.
    auto ends_pair = asio::make_memory_stream_pair(server.get_executor());
    asio::memory_stream& client = ends_pair.first;
    asio::memory_stream& server_end = ends_pair.second;
    if (read_size != 0) server_end.read_size(read_size);
    r.out.reserve(64 * 1024);
    std::array<char, 4096> buffer{};
    std::function<void()> read = [&] {
      client.async_read_some(net::buffer(buffer), [&](std::error_code ec, std::size_t n) {
        r.out.append(buffer.data(), n);
        if (ec) {
          r.eof = ec == net::error::eof;
          return;
        }
        read();
      });
    };
    // The bytes the client sends sit in the memory stream: what their
    // writes allocate is not the server's.
    const std::size_t baseline = heap_in_use();
    std::size_t attributed = 0;
    server.serve(std::move(server_end));
    read();
    std::size_t at = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(sent.size());
    for (const std::size_t end : ends) {
      const std::size_t before = heap_in_use();
      net::async_write(client, net::buffer(sent.data() + at, end - at),
                       [](std::error_code, std::size_t) {});
      const std::size_t after = heap_in_use();
      if (after > before) attributed += after - before;
      at = end;
      run_ready(io, baseline, attributed, r.peak);
    }
    std::error_code ignored;
    client.shutdown(net::socket_base::shutdown_send, ignored);
    run_ready(io, baseline, attributed, r.peak);
    r.connections = server.connections();
    client.close();
    run_ready(io, baseline, attributed, r.peak);
  }
  return r;
}

struct events {
  std::size_t count = 0;
  void on_event(const ssepp::message&) { ++count; }
  void on_retry(std::chrono::milliseconds) {}
  void on_comment(std::string_view) {}
};

// The status the request head's parse and framing call for before any
// route is consulted; 0 when the request gets as far as the routes, -1
// when the server must give no final answer (the client left mid-request).
int expected_early_status(std::string_view sent) {
  http::request_head head;
  std::size_t head_size = 0;
  const http::head_limits limits{max_header_bytes, 100};
  switch (http::parse_request_head(sent, limits, head, head_size)) {
    case http::head_result::incomplete:
      return -1;
    case http::head_result::too_large:
      return 431;
    case http::head_result::bad_version:
      return 505;
    case http::head_result::malformed:
      return 400;
    case http::head_result::complete:
      break;
  }
  const std::string_view rest = sent.substr(head_size);
  const http::framing body = http::request_framing(head);
  switch (body.kind) {
    case http::body_kind::error:
      return body.status;
    case http::body_kind::content_length:
      if (body.length > max_body_bytes) return 413;
      return rest.size() < body.length ? -1 : 0;
    case http::body_kind::chunked: {
      // Decoded as it arrives, within max_body_bytes.
      http::chunked_decoder decoder;
      std::size_t decoded = 0;
      const auto r = decoder.feed(rest, [&](std::string_view piece) { decoded += piece.size(); });
      if (decoded > max_body_bytes) return 413;
      if (r == http::chunked_decoder::result::malformed) return 400;
      return r == http::chunked_decoder::result::more ? -1 : 0;
    }
    case http::body_kind::none:
    case http::body_kind::until_close:
      break;
  }
  return 0;
}

[[noreturn]] void fail_with(const std::string& sent, const run_result& r, const char* what) {
  std::fprintf(stderr, "sent %s\nanswer %s\n", escaped(sent.substr(0, 2048)).c_str(),
               escaped(r.out.substr(0, 2048)).c_str());
  ssepp_fuzz::fail(__FILE__, __LINE__, what);
}

void check_answer(const std::string& sent, const run_result& r) {
  if (!r.eof) fail_with(sent, r, "the client never read the end of the connection (a hang)");
  if (r.connections != 0) fail_with(sent, r, "a connection is left once nothing can run");
  if (can_measure_heap() && r.peak > allowance) {
    std::fprintf(stderr, "peak %zu bytes, allowance %zu\n", r.peak, allowance);
    fail_with(sent, r, "the server held more memory than its limits allow");
  }

  const int early = expected_early_status(sent);
  // Interim answers (100 Continue to "Expect: 100-continue") may come
  // first; each is a head of its own.
  std::string_view rest = r.out;
  http::response_head head;
  while (!rest.empty()) {
    if (rest.compare(0, 9, "HTTP/1.1 ") != 0) fail_with(sent, r, "not an HTTP/1.1 status line");
    std::size_t head_size = 0;
    std::string_view why;
    if (http::parse_response_head(rest, {}, head, head_size, why) != http::head_result::complete)
      fail_with(sent, r, ("the answer's head does not parse: " + std::string(why)).c_str());
    rest.remove_prefix(head_size);
    if (head.status / 100 != 1) break;
    if (head.status != 100 || head.fields.size() != 0)
      fail_with(sent, r, "an interim answer but 100");
  }
  if (head.status / 100 == 1) {
    if (early != -1) fail_with(sent, r, "no final answer to a complete request");
    return;
  }
  if (r.out.empty()) {
    if (early != -1) fail_with(sent, r, "no answer to a complete request");
    return;
  }
  if (early == -1) fail_with(sent, r, "an answer to an incomplete request");
  // The head, its framing and the body's size are judged before any route.
  if (early > 0 && head.status != early) fail_with(sent, r, "not the status the head calls for");
  const std::string_view body = rest;

  const auto type = head.fields.find("content-type");
  if (type && *type == "text/event-stream") {
    if (head.status != 200 || head.fields.contains("content-length"))
      fail_with(sent, r, "an event stream's head is not 200 without Content-Length");
    ssepp::parser<events> p{events{}};
    if (p.feed(body)) fail_with(sent, r, "the event stream does not parse");
    return;
  }
  if (head.fields.find("connection") != std::string_view("close"))
    fail_with(sent, r, "no Connection: close");
  if (head.status == 204) {
    if (!body.empty() || head.fields.contains("content-length"))
      fail_with(sent, r, "a 204 with content");
    return;
  }
  const auto length = head.fields.find("content-length");
  const auto n = length ? ssepp_fuzz::decimal_u64(*length) : std::nullopt;
  if (!n) fail_with(sent, r, "no Content-Length");
  // No body in an answer to HEAD (RFC 9110 9.3.2), even to a HEAD whose
  // field lines are then refused: the server goes by the request line.
  http::request_head request;
  std::size_t request_size = 0;
  const auto parsed =
      http::parse_request_head(sent, {max_header_bytes, 100}, request, request_size);
  const bool is_head = parsed == http::head_result::complete && request.method == "HEAD";
  const bool maybe_head = parsed != http::head_result::complete && sent.compare(0, 5, "HEAD ") == 0;
  if (body.size() != (is_head ? 0 : *n) && !(maybe_head && body.empty()))
    fail_with(sent, r, "the body is not Content-Length long");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  const ssepp_fuzz::controls c(input, size, 5);
  std::string sent(c.rest());
  if (c.bit(0, 2)) {
    const std::string once = sent;
    for (unsigned i = 0; i < c[4] % 16u; ++i) sent += once;
  }
  std::vector<std::size_t> cuts;
  if (c.bit(0, 1)) cuts = ssepp_fuzz::cut_points(sent.size(), {c[2], c[3]});
  const std::size_t read_size = c.bit(0, 0) ? std::size_t{c[1]} + 1 : 0;
  const run_result r = serve(sent, cuts, read_size);
  // SSEPP_FUZZ_VERBOSE=1 shows each answer, to see what a seed reaches.
  static const bool verbose = std::getenv("SSEPP_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "answer (peak heap %zu of %zu allowed): %s\n", r.peak, allowance,
                 escaped(r.out).c_str());
  check_answer(sent, r);
  return 0;
}
