// The server's decision for a parsed request, as a pure function: answer it
// now (CORS refusal, preflight, authorization refusal, a bad event-stream
// request), start an event stream on channels, or hand it to the
// application's routes. The I/O layer only carries the decision out. No I/O.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cors.hpp"
#include "event_stream.hpp"
#include "format.hpp"
#include "host.hpp"
#include "message.hpp"

namespace ssepp::http {

/// What an authorization hook decides: `status` 0 lets the request through;
/// 401 or 403 (or any 4xx) refuses it with `message` as the body, before
/// anything is subscribed or published.
struct auth_result {
  int status = 0;
  std::string message;
};

/// Maps an event-stream request to the channels it subscribes to (empty:
/// there is no such stream, 404).
using channel_mapper = std::function<std::vector<std::string>(const request&)>;

/// An event-stream route: GET requests whose path starts with `prefix`.
struct event_route {
  std::string prefix;
  channel_mapper channels;
};

/// The rules a server decides by.
struct server_rules {
  /// The host names the server answers for (see check_host).
  host_rules hosts;
  /// How requests reach the server: "http" or "https" (for decide_cors).
  std::string scheme = "http";
  /// Origins allowed cross-origin (see decide_cors); "*" for any.
  std::vector<std::string> cors_origins;
  /// Sees every request but preflights; may be empty.
  std::function<auth_result(const request&)> authorize;
  /// Event-stream routes, tried in order.
  std::vector<event_route> event_routes;
};

/// Start an event stream: subscribe to `channels` from `last_event_id`
/// (empty: live events only), then send a 200 head with
/// event_stream_fields() and then `fields` (the CORS fields; the server
/// adds its connection handling).
struct stream_plan {
  std::vector<std::string> channels;
  std::string last_event_id;
  field_list fields;
};

/// Not decided here: route the request to the application's handlers, and
/// add `cors_fields` to whatever they answer.
struct route_request {
  field_list cors_fields;
};

using request_decision = std::variant<response, stream_plan, route_request>;

/// Decides what a server does with `req`, in this order:
///
/// 0. the host (check_host): 400 for a missing, repeated or malformed Host,
///    421 for a host `rules.hosts` does not allow;
/// 1. CORS (decide_cors): an origin not allowed gets 403, whatever else
///    the request is, so a refused page learns nothing;
/// 2. OPTIONS: the preflight answer (204), before authorization, because
///    browsers never send credentials on a preflight;
/// 3. `rules.authorize`: a refusal is answered with its status and message;
/// 4. the first event route whose prefix the path starts with: a method
///    other than GET gets 405 (Allow: GET, OPTIONS); no channels gets 404;
///    otherwise a stream_plan, with Last-Event-ID from the header or the
///    `lastEventId` query parameter (http::last_event_id);
/// 5. anything else: route_request.
///
/// The hook and the mappers are called at most once each; nothing else is
/// done but computing the answer.
inline request_decision decide_request(const request& req, const server_rules& rules) {
  if (auto refused = check_host(req, rules.hosts)) return std::move(*refused);
  const cors_decision cors = decide_cors(req, rules.cors_origins, rules.scheme);
  if (cors.result == cors_result::refused) return cors.answer;
  if (req.method == "OPTIONS") return preflight_answer(req, cors.fields);
  if (rules.authorize) {
    auth_result verdict = rules.authorize(req);
    if (verdict.status != 0) {
      response r;
      r.status = verdict.status;
      r.body = verdict.message.empty() ? std::string(reason_phrase(verdict.status)) + "\n"
                                       : std::move(verdict.message);
      r.headers = cors.fields;
      return r;
    }
  }
  for (const auto& route : rules.event_routes) {
    if (req.path.compare(0, route.prefix.size(), route.prefix) != 0) continue;
    if (req.method != "GET") {
      response r;
      r.status = 405;
      r.body = "an event stream is read with GET\n";
      r.headers = cors.fields;
      r.headers.emplace_back("Allow", "GET, OPTIONS");
      return r;
    }
    stream_plan plan;
    plan.channels = route.channels ? route.channels(req) : std::vector<std::string>{};
    if (plan.channels.empty()) {
      response r;
      r.status = 404;
      r.body = "no such event stream\n";
      r.headers = cors.fields;
      return r;
    }
    plan.last_event_id = last_event_id(req.header("last-event-id"), req.query);
    plan.fields = cors.fields;
    return plan;
  }
  return route_request{cors.fields};
}

/// The channel of a request for `prefix` + channel: the rest of the path,
/// or no channel when it is empty or holds a '/'. The mapper behind the
/// usual `/events/{channel}` route.
inline std::vector<std::string> channel_after_prefix(const request& req, std::string_view prefix) {
  if (req.path.compare(0, prefix.size(), prefix) != 0) return {};
  std::string channel = req.path.substr(prefix.size());
  if (channel.empty() || channel.find('/') != std::string::npos) return {};
  return {std::move(channel)};
}

}  // namespace ssepp::http
