// Umbrella header: everything in ssepp's core (no Asio needed), the
// sans-I/O HTTP layer (<ssepp/http.hpp>) included. The Asio server and
// client are in <ssepp/asio/server.hpp> and <ssepp/asio/client.hpp>, the
// adapters in <ssepp/beast/event_stream.hpp> and
// <ssepp/httplib/event_stream.hpp>; test doubles in <ssepp/testing.hpp>.
#pragma once

#include "error.hpp"
#include "event.hpp"
#include "format.hpp"
#include "http.hpp"
#include "hub.hpp"
#include "metrics.hpp"
#include "parser.hpp"
#include "pull_transport.hpp"
#include "reconnect.hpp"
#include "sink.hpp"
#include "transport.hpp"
#include "version.hpp"
