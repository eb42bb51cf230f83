// Umbrella header: everything in ssepp's core (no Asio needed). The Asio
// server and client are in <ssepp/asio/server.hpp> and
// <ssepp/asio/client.hpp>; test doubles in <ssepp/testing.hpp>.
#pragma once

#include "error.hpp"
#include "event.hpp"
#include "format.hpp"
#include "hub.hpp"
#include "parser.hpp"
#include "reconnect.hpp"
#include "sink.hpp"
#include "transport.hpp"
#include "version.hpp"
