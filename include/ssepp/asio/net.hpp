// Which Asio the headers in ssepp/asio/ are built on: standalone Asio
// (<asio.hpp>, namespace ::asio) or Boost.Asio (<boost/asio.hpp>, namespace
// boost::asio, what Boost.Beast runs on). The two cannot share a
// translation unit (their headers declare conflicting templates), so a
// program picks one per translation unit:
//
//   - define SSEPP_ASIO_BOOST=1 (the CMake target ssepp::boost does), or
//     include <boost/asio.hpp> (or any Beast header) before ssepp's: Boost;
//   - otherwise: standalone Asio.
//
// (Any Boost.Asio header defines BOOST_ASIO_DETAIL_CONFIG_HPP; Beast
// headers need not include version.hpp.)
//
// Every ssepp::asio name lives in an inline namespace named after the
// flavour (ssepp::asio::standalone_asio or ssepp::asio::boost_asio), so a program
// whose translation units chose differently links without clashing
// definitions: ssepp::asio::server names a different class in each. Code
// written against ssepp::asio::net (the chosen Asio's namespace) and
// ssepp::asio::error_code compiles on both.
#pragma once

#if !defined(SSEPP_ASIO_BOOST)
#if defined(BOOST_ASIO_VERSION) || defined(BOOST_ASIO_DETAIL_CONFIG_HPP)
#define SSEPP_ASIO_BOOST 1
#else
#define SSEPP_ASIO_BOOST 0
#endif
#endif

#if SSEPP_ASIO_BOOST
#include <boost/asio.hpp>
#if defined(SSEPP_ENABLE_OPENSSL)
#include <boost/asio/ssl.hpp>
#endif
#define SSEPP_ASIO_FLAVOUR boost_asio
#else
#if defined(BOOST_ASIO_VERSION) || defined(BOOST_ASIO_DETAIL_CONFIG_HPP)
#error \
    "ssepp: Boost.Asio is included, but SSEPP_ASIO_BOOST is 0: standalone Asio cannot share a translation unit with it. Define SSEPP_ASIO_BOOST=1 (or link ssepp::boost)."
#endif
#include <asio.hpp>
#if defined(SSEPP_ENABLE_OPENSSL)
#include <asio/ssl.hpp>
#endif
#define SSEPP_ASIO_FLAVOUR standalone_asio
#endif

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {
#if SSEPP_ASIO_BOOST
/// The Asio in use: boost::asio here, ::asio with standalone Asio.
namespace net = ::boost::asio;
/// The error code type the chosen Asio's handlers receive. ssepp's own
/// callbacks (the hub's, the client's) take std::error_code, which a Boost
/// error_code converts to.
using error_code = ::boost::system::error_code;
#else
namespace net = ::asio;
using error_code = std::error_code;
#endif
}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
