// Serves an SSE response from a hub for a request read by Boost.Beast, in
// one call from a Beast session: ssepp::beast::serve_events. Also names the
// types a Beast program needs (the hub over tcp_stream, the hub driver).
// Always the Boost flavour of ssepp's Asio layer (asio/net.hpp).
#pragma once

#if !defined(SSEPP_ASIO_BOOST)
#define SSEPP_ASIO_BOOST 1
#elif !SSEPP_ASIO_BOOST
// Beast runs on Boost.Asio, so ssepp's Asio layer must too.
#error "ssepp/beast/ needs the Boost flavour: SSEPP_ASIO_BOOST is 0; leave it undefined or 1"
#endif

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/verb.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../asio/event_stream.hpp"
#include "../asio/hub_driver.hpp"
#include "../asio/stream_transport.hpp"
#include "../http/event_stream.hpp"
#include "../hub.hpp"

namespace ssepp::beast {

/// The hub for event streams on Beast's tcp_stream, the stream of Beast's
/// own HTTP server examples. (On TLS: ssepp::hub<ssepp::asio::
/// stream_transport<::boost::beast::ssl_stream<::boost::beast::tcp_stream>>>.)
using hub = ssepp::hub<ssepp::asio::stream_transport<::boost::beast::tcp_stream>>;
/// Runs a hub's tick() and flush() (see asio/hub_driver.hpp).
using ssepp::asio::hub_driver;
using ssepp::asio::hub_driver_options;
/// The handle serve_events returns (see asio/event_stream.hpp).
using ssepp::asio::event_stream;
/// Extra fields, the close handler and limits (see asio/event_stream.hpp);
/// serve_events fills in `last_event_id` from the request unless it is set.
using ssepp::asio::event_stream_options;

/// The id a reconnecting client asks to resume after: its Last-Event-ID
/// field, else `?lastEventId=` in the target (see
/// ssepp::http::last_event_id). Empty when neither is there.
template <class Body, class Fields>
std::string last_event_id(const ::boost::beast::http::request<Body, Fields>& req) {
  const auto target = req.target();
  const std::string_view t(target.data(), target.size());
  const auto qmark = t.find('?');
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : t.substr(qmark + 1);
  std::optional<std::string_view> header;
  // Beast's field enum has no Last-Event-ID: found by name (case-blind).
  const auto it = req.find("Last-Event-ID");
  if (it != req.end()) header = std::string_view(it->value().data(), it->value().size());
  return ssepp::http::last_event_id(header, query);
}

/// Answers the GET request `req`, already read from `stream`, with an event
/// stream of hub `h`'s `channels`, and hands the connection over to it: the
/// session that read the request is done with the stream afterwards.
///
///     if (req_.target().starts_with("/events/")) {  // after checking for GET
///       std::string channel(req_.target().substr(8));  // (without any query)
///       ssepp::beast::serve_events(hub_, std::move(stream_), req_, {channel});
///       return;  // the session is done; the stream lives on in ssepp
///     }
///
/// - The head: `200 OK`, the event stream's fields
///   (ssepp::http::event_stream_fields()), `options.fields` (CORS, say),
///   `Connection: close`, no Content-Length.
/// - The subscription is made before the head leaves, resuming after the
///   request's Last-Event-ID field or `?lastEventId=` (unless
///   `options.last_event_id` is set).
/// - Beast's timeouts are turned off (`expires_never()` on every layer that
///   has them): an idle event stream is normal and must not be cut.
/// - A client that leaves is noticed at once and unsubscribed.
///
/// The caller routes and answers everything else itself: call it for GET
/// only (answer HEAD and other methods with 405 and `Allow: GET`: an event
/// stream is nothing but a body, which HEAD must not have), and answer an
/// unknown channel with 404 rather than calling it with no channels (the
/// connection would be closed without a response). A non-GET request given
/// anyway gets no response either: the connection is closed.
///
/// `Stream` is Beast's tcp_stream, or any stream `h`'s transport is over
/// (ssl_stream<tcp_stream> for HTTPS). Its executor should be a strand, as
/// in Beast's examples (`tcp_stream(net::make_strand(ioc))`), unless one
/// thread runs the io_context; or set `options.strand`.
///
/// Thread safety: as ssepp::asio::start_event_stream; call it where the
/// session runs (its strand).
template <class Stream, class Clock, class Body, class Fields>
event_stream serve_events(ssepp::hub<ssepp::asio::stream_transport<Stream>, Clock>& h,
                          Stream stream, const ::boost::beast::http::request<Body, Fields>& req,
                          std::vector<std::string> channels, event_stream_options options = {});

// ---------------------------------------------------------------------------
// Implementation

namespace detail {
template <class S, class = void>
struct has_expires_never : std::false_type {};
template <class S>
struct has_expires_never<S, std::void_t<decltype(std::declval<S&>().expires_never())>>
    : std::true_type {};

// Beast's basic_stream (tcp_stream) carries the timeouts; under TLS it is
// the ssl_stream's next layer.
template <class Stream>
void never_expire(Stream& s) {
  if constexpr (has_expires_never<Stream>::value) s.expires_never();
  if constexpr (ssepp::asio::detail::has_next_layer<Stream>::value) never_expire(s.next_layer());
}
}  // namespace detail

template <class Stream, class Clock, class Body, class Fields>
event_stream serve_events(ssepp::hub<ssepp::asio::stream_transport<Stream>, Clock>& h,
                          Stream stream, const ::boost::beast::http::request<Body, Fields>& req,
                          std::vector<std::string> channels, event_stream_options options) {
  if (req.method() != ::boost::beast::http::verb::get) channels.clear();  // see above
  detail::never_expire(stream);
  if (options.last_event_id.empty()) options.last_event_id = ssepp::beast::last_event_id(req);
  return ssepp::asio::start_event_stream(h, std::move(stream), std::move(channels),
                                         std::move(options));
}

}  // namespace ssepp::beast
