// RFC 9112 (HTTP/1.1 message syntax) conformance of ssepp's server, one
// case per rule, each named after the rule and its section. The server is a
// basic_server<memory_stream> taking connections through serve(); a test
// writes raw request bytes to the client end and reads the raw response, so
// what is checked is what a peer on the wire would see.
//
// Where the RFC lets a server choose, the case says which choice it tests
// and what nginx (the reference for those choices) does.
#include <ssepp/asio/server.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ssepp/asio/memory_stream.hpp>

#include "raw_head.hpp"

using namespace std::chrono_literals;
namespace net = ssepp::asio::net;
using ssepp::asio::memory_stream;
using server = ssepp::asio::basic_server<memory_stream>;

namespace {

// How long a wait may take before the test calls it a failure; a bound for
// a hung test, never a claim about speed.
constexpr std::chrono::milliseconds patience{5000};

constexpr std::size_t max_body_bytes = 64;
constexpr std::size_t max_header_bytes = 1024;

// The server under test: events under /events/, publishing under
// /publish/, and /echo, whose GET answer shows how the request was
// understood and whose POST answer is the request body as decoded. It
// listens (in name) on 127.0.0.1, so requests name loopback hosts: a
// server on loopback may refuse others (DNS rebinding), which is no
// RFC 9112 matter.
std::unique_ptr<server> make_server() {
  ssepp::asio::server_options o;
  o.threads = 1;
  o.publish_prefix = "/publish/";
  o.max_body_bytes = max_body_bytes;
  o.max_header_bytes = max_header_bytes;
  // Shorter than `patience`: a server still waiting for a body answers
  // 408 before a test gives up on it.
  o.request_timeout = 3s;
  // A persistent connection closes soon after its last answer, so a test
  // reading to the end of one does not wait long.
  o.keep_alive_timeout = 250ms;
  auto s = std::make_unique<server>(std::move(o));
  s->route("GET", "/echo*", [](const ssepp::asio::request& r) {
    ssepp::asio::response out;
    out.body = "path=" + r.path + " query=" + r.query + " authority=" + r.authority;
    return out;
  });
  s->route("POST", "/echo", [](const ssepp::asio::request& r) {
    ssepp::asio::response out;
    out.body = r.body;
    return out;
  });
  s->start_without_listening();
  return s;
}

// One response taken from the bytes a connection received.
struct response {
  int status = 0;
  std::string head;  // the status line and the fields, up to the blank line
  std::string body;

  // The first field called `name` (compared case-insensitively).
  std::optional<std::string> field(std::string_view name) const {
    return ssepp_test::header_value(head, name);
  }
};

// The responses in `raw`, in order: interim 1xx heads, then final ones
// with a body of their Content-Length (or the rest, when they have none).
std::vector<response> split_responses(std::string_view raw) {
  std::vector<response> out;
  while (raw.size() >= 12 && raw.substr(0, 7) == "HTTP/1.") {
    const std::size_t end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    response r;
    r.status = std::atoi(std::string(raw.substr(9, 3)).c_str());
    r.head = std::string(raw.substr(0, end + 2));
    raw.remove_prefix(end + 4);
    if (r.status / 100 != 1 && r.status != 204) {
      const auto length = r.field("content-length");
      const std::size_t n = length ? std::strtoul(length->c_str(), nullptr, 10) : raw.size();
      r.body = std::string(raw.substr(0, n));
      raw.remove_prefix(r.body.size());
    }
    out.push_back(std::move(r));
  }
  return out;
}

// A client connection to the server under test, used from the test's
// thread. Its stream runs on the server's io_context (so it must go before
// the server does); each operation blocks until its handler has run.
class peer {
 public:
  explicit peer(server& s) : server_(s) {
    auto [client, server_end] = ssepp::asio::make_memory_stream_pair(s.get_executor());
    stream_.emplace(std::move(client));
    server_end_.emplace(std::move(server_end));
  }
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  ~peer() { stream_->close(); }

  // Writes every byte (the server may have closed: then some are lost, as
  // on a socket). The first call hands the server its end only once the
  // bytes are there, so a request written at once arrives as one read.
  void send(std::string_view bytes) {
    std::promise<void> written;
    net::async_write(*stream_, net::buffer(bytes.data(), bytes.size()),
                     [&](ssepp::asio::error_code, std::size_t) { written.set_value(); });
    written.get_future().wait();
    hand_over();
  }

  // Reads until `done(received())`, the end of the connection, or `limit`.
  // Returns done(received()).
  bool read_until(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds limit = patience) {
    hand_over();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done(received_) && !ended_) {
      std::promise<std::pair<ssepp::asio::error_code, std::size_t>> read;
      auto result = read.get_future();
      stream_->async_read_some(net::buffer(buffer_),
                               [&](ssepp::asio::error_code ec, std::size_t n) {
                                 read.set_value({ec, n});
                               });
      if (result.wait_until(deadline) == std::future_status::timeout) {
        stream_->cancel();  // the handler still runs, with operation_aborted
        result.wait();
      }
      const auto [ec, n] = result.get();
      received_.append(buffer_.data(), n);
      if (ec == net::error::operation_aborted) break;
      if (ec) ended_ = true;
    }
    return done(received_);
  }

  // Reads until the server ends the connection; false if it did not.
  bool read_to_end(std::chrono::milliseconds limit = patience) {
    read_until([](const std::string&) { return false; }, limit);
    return ended_;
  }

  // Reads until one response head has arrived.
  bool read_head(std::chrono::milliseconds limit = patience) {
    return read_until([](const std::string& r) { return r.find("\r\n\r\n") != std::string::npos; },
                      limit);
  }

  const std::string& received() const noexcept { return received_; }
  bool ended() const noexcept { return ended_; }

 private:
  void hand_over() {
    if (!server_end_) return;
    server_.serve(std::move(*server_end_), "127.0.0.1");
    server_end_.reset();
  }

  server& server_;
  std::optional<memory_stream> stream_;
  std::optional<memory_stream> server_end_;
  std::array<char, 4096> buffer_{};
  std::string received_;
  bool ended_ = false;
};

// What came back for one request sent on a connection of its own.
struct round_trip_result {
  std::string raw;
  std::vector<response> responses;
  bool closed = false;  // the server ended the connection

  // The first response that is not interim (a default one if none came).
  response final() const {
    for (const auto& r : responses)
      if (r.status / 100 != 1) return r;
    return {};
  }
  int status() const { return final().status; }
};

round_trip_result round_trip(server& s, std::string_view request) {
  peer p(s);
  p.send(request);
  round_trip_result out;
  out.closed = p.read_to_end();
  out.raw = p.received();
  out.responses = split_responses(out.raw);
  return out;
}

int status_of(server& s, std::string_view request) { return round_trip(s, request).status(); }

}  // namespace

// --- 2. Message: line ends ---------------------------------------------------

TEST_CASE("RFC 9112 §2.2: a bare LF ends a line as CRLF does") {
  // "MAY recognize a single LF as a line terminator"; nginx does.
  const auto s = make_server();
  const auto r = round_trip(*s, "GET /echo HTTP/1.1\nHost: localhost\n\n");
  CHECK(r.status() == 200);
  CHECK(r.final().body == "path=/echo query= authority=");
}

TEST_CASE("RFC 9112 §2.2: a bare CR in the head is answered 400") {
  // The RFC lets a recipient refuse the element or read the CR as SP; here
  // either way ends in 400 (read as SP, the Host value "localhost X-A: 1" is not a
  // valid Host). nginx refuses it.
  const auto s = make_server();
  SUBCASE("in a field line") {
    CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: localhost\rX-A: 1\r\n\r\n") == 400);
  }
  SUBCASE("ending the request line") {
    CHECK(status_of(*s, "GET /echo HTTP/1.1\rHost: localhost\r\n\r\n") == 400);
  }
}

TEST_CASE("RFC 9112 §2.2: an empty line before the request line is ignored") {
  // "SHOULD ignore at least one empty line (CRLF) received prior to the
  // request-line"; nginx skips any number of them.
  const auto s = make_server();
  CHECK(status_of(*s, "\r\nGET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n") == 200);
}

TEST_CASE(
    "RFC 9112 §2.2: whitespace between the request line and the first field is answered 400") {
  // The RFC allows rejecting the message or ignoring each such line; this
  // holds to rejecting, as nginx does since 1.21.1 (whitespace in a field
  // name is an error). The line is not Host, so ignoring it would give 200.
  const auto s = make_server();
  CHECK(status_of(*s, "GET /echo HTTP/1.1\r\n X-A: 1\r\nHost: localhost\r\n\r\n") == 400);
}

// --- 2.3 HTTP version ----------------------------------------------------------

TEST_CASE("RFC 9112 §2.3: an HTTP/1.0 request is served, without Host, answered as HTTP/1.1") {
  // RFC 9110 §2.5: a server answers with the highest 1.x it speaks.
  const auto s = make_server();
  const auto r = round_trip(*s, "GET /echo HTTP/1.0\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.raw.substr(0, 9) == "HTTP/1.1 ");
}

TEST_CASE("RFC 9112 §2.3: an HTTP/1.2 request is served as HTTP/1.1") {
  // RFC 9110 §2.5: a higher minor version is treated as the highest minor
  // version the recipient supports.
  const auto s = make_server();
  const auto r = round_trip(*s, "GET /echo HTTP/1.2\r\nHost: localhost\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.raw.substr(0, 9) == "HTTP/1.1 ");
}

TEST_CASE("RFC 9112 §2.3: a major version other than 1 is answered 505") {
  // RFC 9110 §15.6.6, 505 HTTP Version Not Supported.
  const auto s = make_server();
  SUBCASE("HTTP/2.0") {
    CHECK(status_of(*s, "GET /echo HTTP/2.0\r\nHost: localhost\r\n\r\n") == 505);
  }
  SUBCASE("HTTP/3.0") {
    CHECK(status_of(*s, "GET /echo HTTP/3.0\r\nHost: localhost\r\n\r\n") == 505);
  }
  SUBCASE("HTTP/0.9") {
    CHECK(status_of(*s, "GET /echo HTTP/0.9\r\nHost: localhost\r\n\r\n") == 505);
  }
}

TEST_CASE("RFC 9112 §2.3: a malformed HTTP-version is answered 400") {
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  const auto s = make_server();
  for (const std::string version :
       {"HTTP/1.1x", "HTTP/1.10", "HTTP/11.1", "HTTP/1", "http/1.1", "HTTP/1.x"}) {
    CAPTURE(version);
    CHECK(status_of(*s, "GET /echo " + version + "\r\nHost: localhost\r\n\r\n") == 400);
  }
}

// --- 3. Request line -------------------------------------------------------------

TEST_CASE("RFC 9112 §3: a request line not split by single SPs is answered 400") {
  // The RFC lets a recipient parse on runs of whitespace instead, and nginx
  // skips extra SPs around the target; this holds to the grammar, because
  // two recipients splitting one line differently is how requests get
  // smuggled (the RFC's own warning).
  const auto s = make_server();
  SUBCASE("two SPs after the method") {
    CHECK(status_of(*s, "GET  /echo HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
  }
  SUBCASE("two SPs before the version") {
    CHECK(status_of(*s, "GET /echo  HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
  }
  SUBCASE("a space inside the target") {
    CHECK(status_of(*s, "GET /ec ho HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
  }
  SUBCASE("no version") { CHECK(status_of(*s, "GET /echo\r\nHost: localhost\r\n\r\n") == 400); }
}

TEST_CASE("RFC 9112 §3.1: a method that is not a token is answered 400") {
  const auto s = make_server();
  SUBCASE("a separator in it") {
    CHECK(status_of(*s, "G@T /echo HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
  }
  SUBCASE("empty") { CHECK(status_of(*s, " /echo HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400); }
}

TEST_CASE("RFC 9112 §3.1: the method is case-sensitive: get is not GET") {
  const auto s = make_server();
  CHECK(status_of(*s, "get /echo HTTP/1.1\r\nHost: localhost\r\n\r\n") >= 400);
}

TEST_CASE("RFC 9112 §3.2: a request target holding a control byte is answered 400") {
  const auto s = make_server();
  CHECK(status_of(*s, "GET /ec\x01ho HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
  CHECK(status_of(*s, "GET /ec\x7fho HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 §3.2.1: an origin-form target is routed by its path, the query apart") {
  const auto s = make_server();
  const auto r = round_trip(*s, "GET /echo/a%20b?x=1&y HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.final().body == "path=/echo/a b query=x=1&y authority=");
}

TEST_CASE("RFC 9112 §3.2.2: an absolute-form target is accepted and routed by its path") {
  const auto s = make_server();
  const auto r =
      round_trip(*s, "GET http://localhost:8080/echo?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.final().body == "path=/echo query=x=1 authority=localhost:8080");
}

TEST_CASE("RFC 9112 §3.2.2: with an absolute-form target, its authority is the host, not Host") {
  // "MUST ignore the received Host header field ... and instead use the
  // host information of the request-target". Seen through CORS: the
  // Origin matches the target's authority, not the Host field, so the
  // request is same-origin and not refused (no origins are allowed).
  const auto s = make_server();
  const auto r = round_trip(*s,
                            "GET http://localhost:8080/echo HTTP/1.1\r\nHost: 127.0.0.1:8081\r\n"
                            "Origin: http://localhost:8080\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.final().body == "path=/echo query= authority=localhost:8080");
}

TEST_CASE("RFC 9112 §3.2.3: an authority-form target is refused with 400 or 501") {
  // Only CONNECT uses it, and this server is no proxy; with any other
  // method it is not a valid target at all.
  const auto s = make_server();
  SUBCASE("CONNECT") {
    const int status =
        status_of(*s, "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n");
    CHECK((status == 400 || status == 501));
  }
  SUBCASE("GET") {
    CHECK(status_of(*s, "GET localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n") == 400);
  }
}

TEST_CASE("RFC 9112 §3.2.4: the asterisk-form, even for OPTIONS, is answered 400, as nginx does") {
  // A server-wide OPTIONS (RFC 9110 §9.3.7) is the form's only use, and no
  // server is required to support it; nginx refuses '*' as a target with
  // 400, and so does this server (it has no server-wide options to tell).
  const auto s = make_server();
  CHECK(status_of(*s, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 §3.2.4: the asterisk-form with a method other than OPTIONS is answered 400") {
  const auto s = make_server();
  CHECK(status_of(*s, "GET * HTTP/1.1\r\nHost: localhost\r\n\r\n") == 400);
}

// --- 3.2 Host ----------------------------------------------------------------------

TEST_CASE("RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400") {
  const auto s = make_server();
  CHECK(status_of(*s, "GET /echo HTTP/1.1\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 §3.2: an HTTP/1.1 request in absolute-form without Host is answered 400") {
  // "any HTTP/1.1 request message that lacks a Host header field", the
  // absolute-form included; nginx refuses it too.
  const auto s = make_server();
  CHECK(status_of(*s, "GET http://localhost/echo HTTP/1.1\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 §3.2: a request with two Host fields is answered 400") {
  const auto s = make_server();
  SUBCASE("different values") {
    CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: localhost\r\nHost: 127.0.0.1\r\n\r\n") == 400);
  }
  SUBCASE("the same value") {
    CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n") == 400);
  }
}

TEST_CASE("RFC 9112 §3.2: a Host that is not uri-host [\":\" port] is answered 400") {
  const auto s = make_server();
  for (const std::string host :
       {"exa mple.com", "example.com/evil", "user@example.com", "[::1", "example.com\\"}) {
    CAPTURE(host);
    CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: " + host + "\r\n\r\n") == 400);
  }
}

// --- 5. Field syntax -----------------------------------------------------------------

TEST_CASE("RFC 9112 §5.1: whitespace between a field name and its colon is answered 400") {
  const auto s = make_server();
  CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: localhost\r\nX-A : 1\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 §5.2: an obs-fold in a request is answered 400") {
  // The RFC allows replacing the fold with SP instead; this holds to
  // rejecting, as nginx does since 1.21.1.
  const auto s = make_server();
  CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n 2\r\n\r\n") == 400);
}

TEST_CASE("RFC 6585 §5: a request head over max_header_bytes is answered 431") {
  const auto s = make_server();
  const std::string pad(max_header_bytes, 'a');
  CHECK(status_of(*s, "GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + pad + "\r\n\r\n") ==
        431);
}

// --- 6. Message body framing -------------------------------------------------------------

TEST_CASE(
    "RFC 9112 §6.1: Transfer-Encoding with Content-Length is answered 400 and the connection "
    "closed") {
  // The RFC allows processing by Transfer-Encoding alone, but the
  // connection must close either way; nginx refuses it (since 1.21.1).
  // What follows the chunked body is never answered as a second request.
  const auto s = make_server();
  const auto r =
      round_trip(*s,
                 "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Length: 5\r\n\r\n0\r\n\r\nGET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(r.status() == 400);
  CHECK(r.closed);
  CHECK(r.responses.size() == 1);
}

TEST_CASE(
    "RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is answered 400 and the connection "
    "closed") {
  const auto s = make_server();
  const auto r = round_trip(
      *s, "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  CHECK(r.status() == 400);
  CHECK(r.closed);
}

TEST_CASE("RFC 9112 §6.1: a transfer coding the server does not implement is answered 501") {
  const auto s = make_server();
  for (const std::string codings : {"x-unknown, chunked", "gzip, chunked"}) {
    CAPTURE(codings);
    CHECK(status_of(*s, "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: " + codings +
                            "\r\n\r\n5\r\nhello\r\n0\r\n\r\n") == 501);
  }
}

TEST_CASE(
    "RFC 9112 §6.3: Transfer-Encoding whose final coding is not chunked is answered 400 and the "
    "connection closed") {
  const auto s = make_server();
  const auto r = round_trip(
      *s,
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, gzip\r\n\r\nhello");
  CHECK(r.status() == 400);
  CHECK(r.closed);
}

TEST_CASE("RFC 9112 §6.3: Content-Length values that differ are answered 400") {
  const auto s = make_server();
  SUBCASE("two fields") {
    CHECK(
        status_of(*s,
                  "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: "
                  "6\r\n\r\nhello!") == 400);
  }
  SUBCASE("a list in one field") {
    CHECK(status_of(
              *s, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 6\r\n\r\nhello!") ==
          400);
  }
}

TEST_CASE(
    "RFC 9110 §8.6: Content-Length given several times with one value is taken as that value") {
  // The RFC allows rejecting these or reading them as the one value. ssepp
  // chose reading them (http/framing.hpp); nginx rejects a second
  // Content-Length field, and "5, 5" as not a number, with 400.
  const auto s = make_server();
  SUBCASE("a list in one field") {
    const auto r = round_trip(
        *s, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 5\r\n\r\nhello");
    CHECK(r.status() == 200);
    CHECK(r.final().body == "hello");
  }
  SUBCASE("two fields") {
    const auto r = round_trip(*s,
                              "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                              "5\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(r.status() == 200);
    CHECK(r.final().body == "hello");
  }
}

TEST_CASE("RFC 9112 §6.3: an invalid Content-Length is answered 400 and the connection closed") {
  const auto s = make_server();
  for (const std::string length :
       {"abc", "-1", "+5", "5 5", "0x5", "5.0", "", "18446744073709551616"}) {
    CAPTURE(length);
    const auto r =
        round_trip(*s, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + length +
                           "\r\n\r\nhello");
    CHECK(r.status() == 400);
    CHECK(r.closed);
  }
}

TEST_CASE("RFC 9110 §15.5.14: a body over max_body_bytes is answered 413") {
  const auto s = make_server();
  SUBCASE("by Content-Length, before the body is read") {
    CHECK(status_of(*s, "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65\r\n\r\n") ==
          413);
  }
  SUBCASE("by the sum of its chunks") {
    // nginx: 413 once the chunks pass client_max_body_size.
    const std::string chunk(40, 'a');
    CHECK(status_of(
              *s,
              "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n" +
                  chunk + "\r\n28\r\n" + chunk + "\r\n0\r\n\r\n") == 413);
  }
}

// --- 7. Chunked transfer coding -------------------------------------------------------------

TEST_CASE("RFC 9112 §7.1: a chunked body to the publish endpoint is published decoded") {
  const auto s = make_server();
  peer subscriber(*s);
  subscriber.send("GET /events/c HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(subscriber.read_head());
  REQUIRE(subscriber.received().substr(0, 12) == "HTTP/1.1 200");

  const auto r =
      round_trip(*s,
                 "POST /publish/c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(subscriber.read_until([](const std::string& got) {
    return got.find("\ndata: hello world\n") != std::string::npos;
  }));
}

TEST_CASE("RFC 9112 §7.1: chunk sizes in either hex case, extensions and trailers are decoded") {
  // §7.1.1: unrecognized chunk extensions are ignored; §7.1.2: a trailer
  // section may follow the last chunk.
  const auto s = make_server();
  const auto r =
      round_trip(*s,
                 "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "a;name=value\r\n0123456789\r\n"
                 "B ; quoted=\"x;y\"\r\nabcdefghijk\r\n"
                 "0\r\nX-Trailer: 1\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.final().body == "0123456789abcdefghijk");
}

TEST_CASE("RFC 9112 §7.1: a chunk size that overflows 64 bits is answered 400") {
  // "prevent parsing errors due to integer conversion overflows"; nginx
  // answers an overflowing size as an invalid chunked body, 400 (not 413).
  const auto s = make_server();
  CHECK(status_of(*s,
                  "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "10000000000000005\r\nhello\r\n0\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 §7.1: a chunk size that is not hexadecimal is answered 400") {
  const auto s = make_server();
  CHECK(status_of(*s,
                  "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: "
                  "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n") == 400);
}

// --- 9. Connection management --------------------------------------------------------------

TEST_CASE(
    "RFC 9112 §9.6: Connection: close is honoured: close in the answer, no further request "
    "served") {
  const auto s = make_server();
  const auto r = round_trip(*s,
                            "GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                            "GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(r.status() == 200);
  CHECK(r.final().field("connection") == "close");
  CHECK(r.closed);
  CHECK(r.responses.size() == 1);
}

TEST_CASE("RFC 9112 §9.3: an HTTP/1.1 connection persists: a second request gets its answer") {
  const auto s = make_server();
  peer p(*s);
  p.send("GET /echo/1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(p.read_until([](const std::string& got) { return split_responses(got).size() == 1; }));
  p.send("GET /echo/2 HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(p.read_until([](const std::string& got) { return split_responses(got).size() == 2; }));
  const auto responses = split_responses(p.received());
  CHECK(responses[0].body.find("path=/echo/1") == 0);
  CHECK(responses[1].body.find("path=/echo/2") == 0);
  CHECK_FALSE(responses[0].field("connection"));
  // Idle past keep_alive_timeout, the server closes it quietly.
  CHECK(p.read_to_end());
  CHECK(split_responses(p.received()).size() == 2);
}

TEST_CASE("RFC 9112 §9.3.2: pipelined requests are answered in order, bodies included") {
  const auto s = make_server();
  const auto r =
      round_trip(*s,
                 "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\none"
                 "GET /echo/two HTTP/1.1\r\nHost: localhost\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nthree"
                 "GET /echo/four HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                 "GET /echo/never HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(r.responses.size() == 4);
  CHECK(r.responses[0].body == "one");
  CHECK(r.responses[1].body.find("path=/echo/two") == 0);
  CHECK(r.responses[2].body == "three");
  CHECK(r.responses[3].body.find("path=/echo/four") == 0);
  CHECK(r.responses[3].field("connection") == "close");
  CHECK(r.closed);
}

TEST_CASE("RFC 9112 §9.3: HTTP/1.0 persists only with Connection: keep-alive") {
  const auto s = make_server();
  const auto plain = round_trip(*s,
                                "GET /echo/a HTTP/1.0\r\nHost: localhost\r\n\r\n"
                                "GET /echo/b HTTP/1.0\r\nHost: localhost\r\n\r\n");
  CHECK(plain.responses.size() == 1);
  CHECK(plain.final().field("connection") == "close");
  const auto kept =
      round_trip(*s,
                 "GET /echo/a HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"
                 "GET /echo/b HTTP/1.0\r\nHost: localhost\r\n\r\n");
  REQUIRE(kept.responses.size() == 2);
  CHECK(kept.responses[0].field("connection") == "keep-alive");
  CHECK(kept.responses[1].field("connection") == "close");
}

TEST_CASE("RFC 9112 §9.3: a bad request after a good one is answered 400 and ends the connection") {
  const auto s = make_server();
  const auto r = round_trip(*s,
                            "GET /echo/ok HTTP/1.1\r\nHost: localhost\r\n\r\n"
                            "GET /echo/bad HTTP/1.1\r\nHost: localhost\r\nBad Name: x\r\n\r\n"
                            "GET /echo/never HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(r.responses.size() == 2);
  CHECK(r.responses[0].status == 200);
  CHECK(r.responses[1].status == 400);
  CHECK(r.responses[1].field("connection") == "close");
  CHECK(r.closed);
}

TEST_CASE("RFC 9112 §9.3: an event stream after a plain request on one connection ends it") {
  const auto s = make_server();
  peer p(*s);
  p.send(
      "GET /echo/first HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /events/c HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "GET /echo/never HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(p.read_until([](const std::string& got) {
    return got.find("text/event-stream") != std::string::npos &&
           got.find("\r\n\r\n", got.find("text/event-stream")) != std::string::npos;
  }));
  const std::string got = p.received();
  CHECK(got.find("path=/echo/first") != std::string::npos);
  CHECK(got.find("Connection: close") != std::string::npos);
  CHECK(got.find("/echo/never") == std::string::npos);
}

TEST_CASE("max_requests_per_connection: the last allowed answer says Connection: close") {
  ssepp::asio::server_options o;
  o.threads = 1;
  o.max_requests_per_connection = 2;
  o.keep_alive_timeout = 250ms;
  server s(o);
  s.route("GET", "/n", [](const ssepp::asio::request&) { return ssepp::asio::response{}; });
  s.start_without_listening();
  const auto r = round_trip(s,
                            "GET /n HTTP/1.1\r\nHost: localhost\r\n\r\n"
                            "GET /n HTTP/1.1\r\nHost: localhost\r\n\r\n"
                            "GET /n HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(r.responses.size() == 2);
  CHECK_FALSE(r.responses[0].field("connection"));
  CHECK(r.responses[1].field("connection") == "close");
  CHECK(r.closed);
}

// --- RFC 9110 §10.1.1 Expect ---------------------------------------------------------------

TEST_CASE(
    "RFC 9110 §10.1.1: Expect: 100-continue with a body is answered 100 Continue, then the final "
    "response") {
  // A client waiting for the 100 before it sends the body: without it, the
  // request stalls until the client gives up waiting (curl: 1 s).
  const auto s = make_server();
  peer p(*s);
  p.send(
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: "
      "100-continue\r\n\r\n");
  CHECK(p.read_head(2s));
  CHECK(p.received().substr(0, 25) == "HTTP/1.1 100 Continue\r\n\r\n");
  p.send("hello");
  CHECK(p.read_to_end());
  const auto responses = split_responses(p.received());
  REQUIRE(!responses.empty());
  CHECK(responses.front().status == 100);
  CHECK(responses.back().status == 200);
  CHECK(responses.back().body == "hello");
}

TEST_CASE(
    "RFC 9110 §10.1.1: Expect: 100-continue with a body too large gets the final 413 and no 100") {
  // "send an immediate response with a final status code, if that status
  // can be determined by examining just the request-line and header fields".
  const auto s = make_server();
  peer p(*s);
  p.send(
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 65\r\nExpect: "
      "100-continue\r\n\r\n");
  CHECK(p.read_head());
  CHECK(p.received().substr(0, 12) == "HTTP/1.1 413");
}

TEST_CASE("RFC 9110 §10.1.1: Expect: 100-continue in an HTTP/1.0 request is ignored") {
  // "A server that receives a 100-continue expectation in an HTTP/1.0
  // request MUST ignore that expectation."
  const auto s = make_server();
  const auto r = round_trip(
      *s, "POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
  CHECK(r.status() == 200);
  CHECK(r.raw.substr(0, 12) == "HTTP/1.1 200");
}
