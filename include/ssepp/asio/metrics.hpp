// The bundled server's metrics page: its hub's counters (<ssepp/metrics.hpp>)
// plus what only the server knows, open connections and responses by
// status, in Prometheus's text format. Serve it on a route of your own:
//
//   server.route("GET", "/metrics", [&server](const ssepp::asio::request&) {
//     return ssepp::asio::metrics_response(server);
//   });
#pragma once

#include <string>

#include "../metrics.hpp"
#include "server.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// Appends `s`'s metrics to `out`: append_prometheus_metrics of its
/// hub, the gauges `ssepp_connections` and `ssepp_event_feeds` and the counter
/// `ssepp_http_responses_total{code="…"}`.
///
/// Thread safety: any thread, while the server exists.
template <class Stream>
void append_prometheus_metrics(std::string& out, const basic_server<Stream>& s) {
  ssepp::append_prometheus_metrics(out, s.hub().stats());
  prometheus_writer w(out);
  w.gauge("ssepp_connections", "HTTP connections open now, event streams included.",
          s.connections());
  w.gauge("ssepp_event_feeds",
          "Event streams the application feeds (stream_route, as an LLM answer), open now.",
          s.feeds());
  w.family("ssepp_http_responses_total", "counter",
           "HTTP responses sent, by status code (an event stream counts when it starts).");
  for (const auto& [code, count] : s.responses())
    w.sample("ssepp_http_responses_total", {{"code", std::to_string(code)}}, count);
}

/// `s`'s metrics as a response (200, Prometheus's content type).
template <class Stream>
response metrics_response(const basic_server<Stream>& s) {
  response r;
  r.content_type = std::string(prometheus_content_type);
  append_prometheus_metrics(r.body, s);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
