// URLs and request-target parts: parse_url and resolve_location (what the
// client connects to, and where a redirect's Location leads, RFC 3986
// section 5), percent_decode, and query parameters.
#include <ssepp/http/url.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_literals;
using ssepp::http::parse_url;
using ssepp::http::percent_decode;
using ssepp::http::query_param;
using ssepp::http::raw_query_param;
using ssepp::http::resolve_location;
using ssepp::http::url;

namespace {

// "scheme host port target" or "none": one string shows every part at once.
std::string show(const std::optional<url>& u) {
  if (!u) return "none";
  return u->scheme + " " + u->host + " " + std::to_string(u->port) + " " + u->target;
}

std::string parsed(std::string_view s) { return show(parse_url(s)); }

std::string resolved(std::string_view base, std::string_view location) {
  const auto b = parse_url(base);
  REQUIRE(b);
  return show(resolve_location(*b, location));
}

}  // namespace

// --- parse_url ---------------------------------------------------------------

TEST_CASE("parse_url splits scheme, host, port and target") {
  CHECK(parsed("http://example.com/events") == "http example.com 80 /events");
  CHECK(parsed("https://example.com/a/b?c=d&e") == "https example.com 443 /a/b?c=d&e");
  CHECK(parsed("http://127.0.0.1:8080/x") == "http 127.0.0.1 8080 /x");
}

TEST_CASE("parse_url: no path is the root") {
  CHECK(parsed("http://example.com") == "http example.com 80 /");
  CHECK(parsed("https://example.com:8443") == "https example.com 8443 /");
}

TEST_CASE("parse_url: a query without a path gets the root path") {
  CHECK(parsed("http://example.com?stream=1") == "http example.com 80 /?stream=1");
  CHECK(parsed("http://example.com:81?x") == "http example.com 81 /?x");
}

TEST_CASE("parse_url: the fragment never goes on the wire") {
  CHECK(parsed("http://example.com/p?q=1#frag") == "http example.com 80 /p?q=1");
  CHECK(parsed("http://example.com#frag") == "http example.com 80 /");
  CHECK(parsed("http://example.com/p#frag?not-a-query") == "http example.com 80 /p");
}

TEST_CASE("parse_url: the scheme is case-insensitive") {
  CHECK(parsed("HTTP://example.com/") == "http example.com 80 /");
  CHECK(parsed("HtTpS://example.com/") == "https example.com 443 /");
}

TEST_CASE("parse_url: ports") {
  SUBCASE("default ports") {
    CHECK(parse_url("http://h/")->port == 80);
    CHECK(parse_url("https://h/")->port == 443);
  }
  SUBCASE("the extremes") {
    CHECK(parsed("http://h:1/") == "http h 1 /");
    CHECK(parsed("http://h:65535/") == "http h 65535 /");
    CHECK(parsed("http://h:00080/") == "http h 80 /");
  }
  SUBCASE("an empty port is the default (RFC 3986 allows it)") {
    CHECK(parsed("http://h:/x") == "http h 80 /x");
  }
  SUBCASE("bad ports") {
    CHECK(parsed("http://h:0/") == "none");
    CHECK(parsed("http://h:65536/") == "none");
    CHECK(parsed("http://h:99999/") == "none");
    CHECK(parsed("http://h:123456/") == "none");
    CHECK(parsed("http://h:8o/") == "none");
    CHECK(parsed("http://h:-1/") == "none");
    CHECK(parsed("http://h:+80/") == "none");
    CHECK(parsed("http://h:0x50/") == "none");
    CHECK(parsed("http://h: 80/") == "none");
    CHECK(parsed("http://h:18446744073709551696/") == "none");  // 2^64 + 80 must not wrap
  }
  SUBCASE("leading zeros are allowed however many there are") {
    CHECK(parsed("http://h:000000080/") == "http h 80 /");
  }
}

TEST_CASE("parse_url: IPv6 literals") {
  SUBCASE("the host is stored without brackets") {
    CHECK(parsed("http://[::1]/events") == "http ::1 80 /events");
    CHECK(parsed("https://[2001:db8::7]:8443/") == "https 2001:db8::7 8443 /");
    CHECK(parsed("http://[::1]") == "http ::1 80 /");
    CHECK(parsed("http://[::1]?q") == "http ::1 80 /?q");
  }
  SUBCASE("the Host header and str() put the brackets back") {
    CHECK(parse_url("http://[::1]:9000/x")->host_header() == "[::1]:9000");
    CHECK(parse_url("http://[::1]/x")->host_header() == "[::1]");
    CHECK(parse_url("http://[::1]:9000/x")->str() == "http://[::1]:9000/x");
  }
  SUBCASE("malformed") {
    CHECK(parsed("http://[::1/x") == "none");
    CHECK(parsed("http://[::1]x/") == "none");
    CHECK(parsed("http://[::1]:/x") == "http ::1 80 /x");
    CHECK(parsed("http://[::1]:99999/") == "none");
    CHECK(parsed("http://[]/") == "none");
  }
  SUBCASE("brackets and colons only in an IP literal (str() must parse again)") {
    // found by fuzz_url: "[x" and "a]:b" were taken as hosts
    CHECK(parsed("http://[[x]/") == "none");
    CHECK(parsed("http://[::1%zz]/") == "none");
    CHECK(parsed("http://a]:b:80/") == "none");
    CHECK(parsed("http://a[b/") == "none");
    CHECK(parsed("http://a:b:80/") == "none");
  }
}

TEST_CASE("parse_url: Host header and str()") {
  CHECK(parse_url("http://h:80/x")->host_header() == "h");
  CHECK(parse_url("https://h:443/x")->host_header() == "h");
  CHECK(parse_url("https://h:80/x")->host_header() == "h:80");
  CHECK(parse_url("http://h:443/x")->host_header() == "h:443");
  CHECK(parse_url("http://h:80/x?y")->str() == "http://h/x?y");
  CHECK(parse_url("HTTPS://h:8443?y#z")->str() == "https://h:8443/?y");
  CHECK(parse_url("https://h/")->tls());
  CHECK_FALSE(parse_url("http://h/")->tls());
}

TEST_CASE("parse_url: only absolute http and https URLs") {
  CHECK(parsed("") == "none");
  CHECK(parsed("ftp://example.com/") == "none");
  CHECK(parsed("ws://example.com/") == "none");
  CHECK(parsed("httpx://example.com/") == "none");
  CHECK(parsed("example.com/events") == "none");
  CHECK(parsed("/events") == "none");
  CHECK(parsed("//example.com/events") == "none");
  CHECK(parsed("http:/example.com/") == "none");
  CHECK(parsed("http:example.com") == "none");
  CHECK(parsed("://example.com/") == "none");
}

TEST_CASE("parse_url: a host is required") {
  CHECK(parsed("http://") == "none");
  CHECK(parsed("http:///events") == "none");
  CHECK(parsed("http://:8080/") == "none");
  CHECK(parsed("http://?q") == "none");
}

TEST_CASE("parse_url: user info is refused") {
  CHECK(parsed("http://user:secret@example.com/") == "none");
  CHECK(parsed("http://user@example.com/") == "none");
  CHECK(parsed("http://@example.com/") == "none");
  // An @ after the authority is just part of the path or query.
  CHECK(parsed("http://example.com/a@b?c=@") == "http example.com 80 /a@b?c=@");
}

TEST_CASE("parse_url: spaces and control bytes are refused anywhere") {
  CHECK(parsed("http://example.com/a b") == "none");
  CHECK(parsed(" http://example.com/") == "none");
  CHECK(parsed("http://example.com/ ") == "none");
  CHECK(parsed("http://exa mple.com/") == "none");
  CHECK(parsed("http://example.com/\t") == "none");
  CHECK(parsed("http://example.com/x\r\nHost: evil") == "none");
  CHECK(parsed(std::string_view("http://example.com/\0", 20)) == "none");
  CHECK(parsed("http://example.com/\x7f") == "none");
  // Bytes above 0x7F are left to the server (percent-encoding is the
  // caller's job); they are not control bytes.
  CHECK(parsed("http://example.com/\xc3\xa9") == "http example.com 80 /\xc3\xa9");
}

// --- resolve_location ----------------------------------------------------------

TEST_CASE("resolve_location: an absolute URL replaces everything") {
  const std::string base = "http://a.example:8080/dir/page?x=1";
  CHECK(resolved(base, "https://b.example/new") == "https b.example 443 /new");
  CHECK(resolved(base, "http://b.example:9000") == "http b.example 9000 /");
  CHECK(resolved(base, "HTTP://b.example/x#f") == "http b.example 80 /x");
  CHECK(resolved(base, "ftp://b.example/") == "none");
  CHECK(resolved(base, "https://user@b.example/") == "none");
}

TEST_CASE("resolve_location: scheme-relative keeps the scheme") {
  CHECK(resolved("http://a.example/dir/page", "//c.example/x") == "http c.example 80 /x");
  CHECK(resolved("https://a.example/dir/page", "//c.example:444/x?y") ==
        "https c.example 444 /x?y");
  CHECK(resolved("https://a.example/", "//[::1]/v6") == "https ::1 443 /v6");
}

TEST_CASE("resolve_location: an absolute path keeps scheme, host and port") {
  const std::string base = "http://a.example:8080/dir/page?x=1";
  CHECK(resolved(base, "/other") == "http a.example 8080 /other");
  CHECK(resolved(base, "/other?q=2") == "http a.example 8080 /other?q=2");
  CHECK(resolved(base, "/other#frag") == "http a.example 8080 /other");
  CHECK(resolved("http://[::1]:81/x", "/y") == "http ::1 81 /y");
}

TEST_CASE("resolve_location: a relative path is taken from the base's directory") {
  CHECK(resolved("http://a/dir/page?x=1", "next") == "http a 80 /dir/next");
  CHECK(resolved("http://a/dir/page", "sub/next?y=2") == "http a 80 /dir/sub/next?y=2");
  CHECK(resolved("http://a/dir/", "next") == "http a 80 /dir/next");
  CHECK(resolved("http://a", "next") == "http a 80 /next");
  // The base's query may hold slashes; they are not directories.
  CHECK(resolved("http://a/dir/page?p=x/y/z", "next") == "http a 80 /dir/next");
}

TEST_CASE("resolve_location: dot segments are removed (RFC 3986 5.2.4)") {
  CHECK(resolved("http://a/b/c/d", "./e") == "http a 80 /b/c/e");
  CHECK(resolved("http://a/b/c/d", "../e") == "http a 80 /b/e");
  CHECK(resolved("http://a/b/c/d", "../../e?q") == "http a 80 /e?q");
  CHECK(resolved("http://a/b/c/d", "../../../../e") == "http a 80 /e");
  CHECK(resolved("http://a/b/c/d", "..") == "http a 80 /b/");
  CHECK(resolved("http://a/b/c/d", "/x/../y/./z") == "http a 80 /y/z");
}

TEST_CASE("resolve_location: a query-only reference keeps the base's path (RFC 3986 5.2.2)") {
  CHECK(resolved("http://a/dir/page?x=1", "?page=2") == "http a 80 /dir/page?page=2");
  CHECK(resolved("http://a", "?x") == "http a 80 /?x");
}

TEST_CASE("resolve_location: a relative reference whose query holds a URL stays relative") {
  CHECK(resolved("http://a/dir/page", "/login?next=http://b/x") ==
        "http a 80 /login?next=http://b/x");
  CHECK(resolved("http://a/dir/page", "go?to=https://b/") == "http a 80 /dir/go?to=https://b/");
}

TEST_CASE("resolve_location: an empty Location is the base itself") {
  CHECK(resolved("http://a:81/dir/page?x=1", "") == "http a 81 /dir/page?x=1");
}

TEST_CASE("resolve_location: control bytes in the Location are refused") {
  CHECK(resolved("http://a/", "/x y") == "none");
  CHECK(resolved("http://a/", "/x\r\nInjected: 1") == "none");
}

TEST_CASE("remove_dot_segments: RFC 3986 5.2.4's examples and edge cases") {
  using ssepp::http::detail::remove_dot_segments;
  CHECK(remove_dot_segments("/a/b/c/./../../g") == "/a/g");
  CHECK(remove_dot_segments("mid/content=5/../6") == "mid/6");
  CHECK(remove_dot_segments("/../x") == "/x");
  CHECK(remove_dot_segments("/a/..") == "/");
  CHECK(remove_dot_segments("/a/.") == "/a/");
  CHECK(remove_dot_segments("./x") == "x");
  CHECK(remove_dot_segments("..") == "");
  CHECK(remove_dot_segments("/a..b/.c/") == "/a..b/.c/");
}

// --- percent decoding --------------------------------------------------------

TEST_CASE("percent_decode: escapes, '+' and plain bytes") {
  CHECK(percent_decode("", false) == ""s);
  CHECK(percent_decode("plain/text.html", false) == "plain/text.html"s);
  CHECK(percent_decode("%41%42c", false) == "ABc"s);
  CHECK(percent_decode("%2e%2E", false) == ".."s);
  CHECK(percent_decode("%C3%A9t%c3%a9", false) == "\xc3\xa9t\xc3\xa9"s);
  CHECK(percent_decode("a+b", false) == "a+b"s);
  CHECK(percent_decode("a+b", true) == "a b"s);
  CHECK(percent_decode("a%2Bb", true) == "a+b"s);
  CHECK(percent_decode("%20", true) == " "s);
  // Decoding happens once: an escaped '%' stays a literal '%'.
  CHECK(percent_decode("%2541", false) == "%41"s);
}

TEST_CASE("percent_decode: every byte but NUL, in both hex cases") {
  static constexpr char upper[] = "0123456789ABCDEF";
  static constexpr char lower[] = "0123456789abcdef";
  for (unsigned b = 1; b < 256; ++b) {
    CAPTURE(b);
    const std::string expected(1, static_cast<char>(b));
    const std::string up{'%', upper[b / 16], upper[b % 16]};
    const std::string low{'%', lower[b / 16], lower[b % 16]};
    CHECK(percent_decode(up, false) == expected);
    CHECK(percent_decode(low, true) == expected);
  }
}

TEST_CASE("percent_decode: malformed escapes and encoded NUL are refused") {
  for (const char* s : {"%", "%4", "a%", "a%4", "%G1", "%1G", "%%41", "% 41", "%-1", "%+1", "%00",
                        "a%00b", "ok%0"}) {
    CAPTURE(s);
    CHECK_FALSE(percent_decode(s, false));
    CHECK_FALSE(percent_decode(s, true));
  }
}

// --- query parameters ----------------------------------------------------------

TEST_CASE("query_param finds a parameter by name and decodes its value") {
  const std::string q = "event=update&id=42&lastEventId=ab%2Dc&msg=hello+world%21";
  CHECK(query_param(q, "event") == "update"s);
  CHECK(query_param(q, "id") == "42"s);
  CHECK(query_param(q, "lastEventId") == "ab-c"s);
  CHECK(query_param(q, "msg") == "hello world!"s);
  CHECK_FALSE(query_param(q, "missing"));
  // Names are case-sensitive.
  CHECK_FALSE(query_param(q, "lasteventid"));
}

TEST_CASE("query_param: the first of repeated names wins") {
  CHECK(query_param("a=1&a=2", "a") == "1"s);
}

TEST_CASE("query_param: empty values, bare names, empty pairs") {
  const std::string q = "&&flag&empty=&x=1&";
  CHECK(query_param(q, "flag") == ""s);
  CHECK(query_param(q, "empty") == ""s);
  CHECK(query_param(q, "x") == "1"s);
  CHECK_FALSE(query_param("", "x"));
  CHECK_FALSE(query_param("x1=1", "x"));
  CHECK_FALSE(query_param("xx=1", "x"));
}

TEST_CASE("query_param: '=' inside a value; names are decoded too") {
  CHECK(query_param("t=a=b=c", "t") == "a=b=c"s);
  CHECK(query_param("%6castEventId=5", "lastEventId") == "5"s);
  CHECK(query_param("a+b=1", "a b") == "1"s);
  // An escaped '&' or '=' is data, not a separator.
  CHECK(query_param("v=1%262%3D3&w=4", "v") == "1&2=3"s);
}

TEST_CASE("query_param: a value that does not decode is absent") {
  CHECK_FALSE(query_param("event=%0", "event"));
  CHECK_FALSE(query_param("event=%00", "event"));
  // ... even when a later parameter of that name would decode.
  CHECK_FALSE(query_param("event=%zz&event=ok", "event"));
  // A malformed name is skipped, and a later well-formed pair still found.
  CHECK(query_param("%zz=1&a=2", "a") == "2"s);
}

TEST_CASE("raw_query_param returns the first matching value exactly as sent") {
  using sv = std::string_view;
  CHECK(raw_query_param("a=1%202+3&b=x", "a") == sv("1%202+3"));
  CHECK(raw_query_param("a=%zz", "a") == sv("%zz"));
  CHECK(raw_query_param("a=1&a=2", "a") == sv("1"));
  CHECK(raw_query_param("flag&x=1", "flag") == sv(""));
  CHECK(raw_query_param("x=", "x") == sv(""));
  CHECK(raw_query_param("%6castEventId=7%2B1", "lastEventId") == sv("7%2B1"));
  CHECK(raw_query_param("last+id=3", "last id") == sv("3"));
  CHECK_FALSE(raw_query_param("", "a"));
  CHECK_FALSE(raw_query_param("ab=1&%zz=2", "a"));
  CHECK_FALSE(raw_query_param("A=1", "a"));
}

TEST_CASE("raw_query_param: the value is a view into the query") {
  const std::string q = "x=1&name=value&y=2";
  const auto v = raw_query_param(q, "name");
  REQUIRE(v);
  CHECK(v->data() == q.data() + 9);
  CHECK(v->size() == 5);
}
