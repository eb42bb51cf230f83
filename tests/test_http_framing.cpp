// Where a message body ends (RFC 9112 sections 6.1-6.3), decided from
// heads parsed off the wire.
#include <ssepp/http/framing.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include <ssepp/http/head.hpp>

using ssepp::http::body_kind;
using ssepp::http::framing;

namespace {

// "none", "length N", "chunked", "chunked+codings", "until_close",
// "until_close+codings" or "error S": one string shows the whole decision.
std::string show(const framing& f) {
  const std::string codings = f.other_codings ? "+codings" : "";
  switch (f.kind) {
    case body_kind::none:
      return "none";
    case body_kind::content_length:
      return "length " + std::to_string(f.length);
    case body_kind::chunked:
      return "chunked" + codings;
    case body_kind::until_close:
      return "until_close" + codings;
    case body_kind::error:
      CHECK(!f.error.empty());  // every error says what was wrong
      return "error " + std::to_string(f.status);
  }
  return "?";
}

// The framing of a request with these field lines ("Name: value\r\n"...).
std::string request(const std::string& field_lines, std::string_view version = "HTTP/1.1") {
  ssepp::http::request_head head;
  std::size_t size = 0;
  const std::string bytes = "POST /p " + std::string(version) + "\r\n" + field_lines + "\r\n";
  REQUIRE(ssepp::http::parse_request_head(bytes, {}, head, size) ==
          ssepp::http::head_result::complete);
  return show(ssepp::http::request_framing(head));
}

std::string request_error(const std::string& field_lines) {
  ssepp::http::request_head head;
  std::size_t size = 0;
  REQUIRE(ssepp::http::parse_request_head("POST /p HTTP/1.1\r\n" + field_lines + "\r\n", {}, head,
                                          size) == ssepp::http::head_result::complete);
  return std::string(ssepp::http::request_framing(head).error);
}

// The framing of a response with this status line and these field lines,
// to a request with `method`.
std::string response(const std::string& status_line, const std::string& field_lines,
                     std::string_view method = "GET") {
  ssepp::http::response_head head;
  std::size_t size = 0;
  REQUIRE(ssepp::http::parse_response_head(status_line + "\r\n" + field_lines + "\r\n", {}, head,
                                           size) == ssepp::http::head_result::complete);
  return show(ssepp::http::response_framing(head, method));
}

}  // namespace

// --- requests ------------------------------------------------------------------

TEST_CASE("a request with neither Content-Length nor Transfer-Encoding has no body") {
  CHECK(request("") == "none");
  CHECK(request("Host: h\r\n") == "none");
  CHECK(request("", "HTTP/1.0") == "none");
}

TEST_CASE("a request's Content-Length gives its length") {
  CHECK(request("Content-Length: 5\r\n") == "length 5");
  CHECK(request("Content-Length: 0\r\n") == "length 0");
  CHECK(request("content-LENGTH: 007\r\n") == "length 7");
  CHECK(request("Content-Length: 18446744073709551615\r\n") == "length 18446744073709551615");
}

TEST_CASE("a Content-Length that is not 1*DIGIT within 64 bits is a 400") {
  for (const char* v : {"12a", "1x", "", "+5", "-5", "0x5", "5.0", "1 2", "18446744073709551616",
                        "18446744073709551626"}) {
    CAPTURE(v);
    CHECK(request("Content-Length: " + std::string(v) + "\r\n") == "error 400");
  }
  // Blanks around the value are the field's, not the number's.
  CHECK(request("Content-Length:  5 \r\n") == "length 5");
  CHECK(request_error("Content-Length: 12a\r\n").find("Content-Length") != std::string::npos);
}

TEST_CASE("identical Content-Length values, in a list or in several fields, are one length") {
  CHECK(request("Content-Length: 5, 5\r\n") == "length 5");
  CHECK(request("Content-Length: 5,5 ,  5\r\n") == "length 5");
  CHECK(request("Content-Length: 5\r\nContent-Length: 5\r\n") == "length 5");
  CHECK(request("Content-Length: 5\r\nContent-Length: 005\r\n") == "length 5");
}

TEST_CASE("differing Content-Length values are a 400") {
  CHECK(request("Content-Length: 5, 6\r\n") == "error 400");
  CHECK(request("Content-Length: 5\r\nContent-Length: 6\r\n") == "error 400");
  CHECK(request("Content-Length: 5\r\nX: 1\r\nContent-Length: 50\r\n") == "error 400");
  CHECK(request("Content-Length: 5,\r\n") == "error 400");
  CHECK(request("Content-Length: ,5\r\n") == "error 400");
  CHECK(request_error("Content-Length: 5, 6\r\n").find("differ") != std::string::npos);
}

TEST_CASE("a request with Transfer-Encoding: chunked is chunked, for the caller to accept or not") {
  CHECK(request("Transfer-Encoding: chunked\r\n") == "chunked");
  CHECK(request("Transfer-Encoding: CHUNKED\r\n") == "chunked");
  CHECK(request("Transfer-Encoding: , chunked ,\r\n") == "chunked");
}

TEST_CASE("a request with both Transfer-Encoding and Content-Length is a 400") {
  // RFC 9112 section 6.3 item 3: the classic request smuggling pair.
  CHECK(request("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") == "error 400");
  CHECK(request("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") == "error 400");
  CHECK(request_error("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n").find("both") !=
        std::string::npos);
}

TEST_CASE("a request whose final transfer coding is not chunked is a 400") {
  CHECK(request("Transfer-Encoding: gzip\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: chunked, gzip\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: chunkedx\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: identity\r\n") == "error 400");
}

TEST_CASE("a request with chunked twice, or an empty or malformed coding list, is a 400") {
  CHECK(request("Transfer-Encoding: chunked, chunked\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") == "error 400");
  CHECK(request("Transfer-Encoding:\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: ,\r\n") == "error 400");
  CHECK(request("Transfer-Encoding: \"chunked\"\r\n") == "error 400");
}

TEST_CASE("a request with codings before chunked is a 501") {
  CHECK(request("Transfer-Encoding: gzip, chunked\r\n") == "error 501");
  CHECK(request("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") == "error 501");
}

TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is a 400") {
  // RFC 9112 section 6.1: a 1.0 recipient could not have read it.
  CHECK(request("Transfer-Encoding: chunked\r\n", "HTTP/1.0") == "error 400");
}

// --- responses -----------------------------------------------------------------

TEST_CASE("a response with neither Content-Length nor Transfer-Encoding runs until close") {
  CHECK(response("HTTP/1.1 200 OK", "Content-Type: text/event-stream\r\n") == "until_close");
  CHECK(response("HTTP/1.0 200 OK", "") == "until_close");
}

TEST_CASE("1xx, 204 and 304 responses, and responses to HEAD, have no body") {
  CHECK(response("HTTP/1.1 100 Continue", "") == "none");
  CHECK(response("HTTP/1.1 101 Switching Protocols", "") == "none");
  CHECK(response("HTTP/1.1 204 No Content", "Content-Length: 5\r\n") == "none");
  CHECK(response("HTTP/1.1 304 Not Modified", "Transfer-Encoding: chunked\r\n") == "none");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 5\r\n", "HEAD") == "none");
  CHECK(response("HTTP/1.1 200 OK", "", "CONNECT") == "none");
  // Even a malformed length is moot when there is no body.
  CHECK(response("HTTP/1.1 204 No Content", "Content-Length: 12a\r\n") == "none");
}

TEST_CASE("a response's Content-Length gives its length; a bad one is an error") {
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 12\r\n") == "length 12");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 12, 12\r\n") == "length 12");
  CHECK(response("HTTP/1.1 404 Not Found", "Content-Length: 0\r\n") == "length 0");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 12a\r\n") == "error 0");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 1, 2\r\n") == "error 0");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 1\r\nContent-Length: 2\r\n") == "error 0");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 18446744073709551626\r\n") == "error 0");
}

TEST_CASE("a response's Transfer-Encoding wins over Content-Length") {
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n") == "chunked");
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") ==
        "chunked");
  CHECK(response("HTTP/1.1 200 OK", "Content-Length: 12a\r\nTransfer-Encoding: chunked\r\n") ==
        "chunked");
}

TEST_CASE("a response whose final coding is not chunked runs until close") {
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: gzip\r\n") == "until_close+codings");
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n") ==
        "until_close+codings");
}

TEST_CASE("a response with codings before chunked is chunked and says so") {
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked\r\n") == "chunked+codings");
}

TEST_CASE("an HTTP/1.0 response with Transfer-Encoding runs until close") {
  CHECK(response("HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n") == "until_close");
}

TEST_CASE("a response with chunked twice or an empty coding list is an error") {
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, chunked\r\n") == "error 0");
  CHECK(response("HTTP/1.1 200 OK", "Transfer-Encoding: \r\n") == "error 0");
}
