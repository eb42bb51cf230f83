// The CORS decision for a request (Fetch standard, "CORS protocol"): let it
// through as same-origin, allow it with the fields that let the page read
// the answer, or refuse it; and the answer to a preflight. Pure functions.
// No I/O.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "detail/chars.hpp"
#include "host.hpp"
#include "message.hpp"

namespace ssepp::http {

/// The outcomes of the CORS check.
enum class cors_result {
  same_origin,  ///< no Origin, or the server's own: nothing to add
  allowed,      ///< a listed origin: add `fields` to the response
  refused,      ///< an origin not listed: answer `answer` (403)
};

/// What the CORS check decided.
struct cors_decision {
  cors_result result = cors_result::same_origin;
  /// For allowed: the Access-Control-Allow-* fields and Vary: Origin.
  field_list fields;
  /// For refused: the complete answer.
  response answer;
};

/// Decides CORS for `req`, which reached the server over `scheme` ("http"
/// or "https"), against `allowed_origins` (exact origins such as
/// "https://app.example", or "*" for any).
///
/// - A request without Origin is not cross-origin (EventSource, curl and
///   same-origin GETs send none), nor is one whose Origin is the server's
///   own: the same scheme, and the host and port of the request (the
///   absolute-form target's, else Host; see is_own_origin). Browsers send
///   Origin on same-origin POSTs too, and a page the server itself serves
///   must always be able to call it. The scheme counts: a page from
///   https://host must not pass for one from http://host. (A name that
///   only resolves to this server, as in DNS rebinding, is refused before:
///   check_host.)
/// - A listed origin is echoed in Access-Control-Allow-Origin with
///   Access-Control-Allow-Credentials: true, because EventSource's
///   `withCredentials` (cookie auth, the usual case) forbids a literal "*";
///   "*" therefore also echoes the origin. Vary: Origin keeps caches from
///   serving one origin's answer to another.
/// - Any other origin is refused with 403 before the request does anything.
///
/// Complexity: linear in the number of allowed origins.
inline cors_decision decide_cors(const request& req,
                                 const std::vector<std::string>& allowed_origins,
                                 std::string_view scheme = "http") {
  cors_decision d;
  const auto origin = req.header("origin");
  if (!origin) return d;
  const auto authority = request_authority(req);
  if (authority && is_own_origin(*origin, scheme, *authority)) return d;
  const bool listed = std::any_of(allowed_origins.begin(), allowed_origins.end(),
                                  [&](const std::string& o) { return o == "*" || o == *origin; });
  if (!listed) {
    d.result = cors_result::refused;
    d.answer.status = 403;
    d.answer.body = "origin " + std::string(*origin) + " is not allowed\n";
    return d;
  }
  d.result = cors_result::allowed;
  d.fields = {{"Access-Control-Allow-Origin", std::string(*origin)},
              {"Access-Control-Allow-Credentials", "true"},
              {"Vary", "Origin"}};
  return d;
}

/// The answer to an OPTIONS request (a CORS preflight, once decide_cors has
/// let it through): 204 with `cors_fields`, the methods the server takes
/// (GET, POST, OPTIONS), the headers the preflight asked for echoed (the
/// parser has refused CR, LF and NUL in them), and a 10-minute
/// Access-Control-Max-Age so a page does not preflight every request.
inline response preflight_answer(const request& req, const field_list& cors_fields) {
  response r;
  r.status = 204;
  r.headers = cors_fields;
  r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  if (const auto asked = req.header("access-control-request-headers"))
    r.headers.emplace_back("Access-Control-Allow-Headers", std::string(*asked));
  r.headers.emplace_back("Access-Control-Max-Age", "600");
  return r;
}

}  // namespace ssepp::http
