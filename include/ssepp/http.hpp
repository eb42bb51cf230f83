// Umbrella header of ssepp::http, the sans-I/O HTTP/1.1 layer (standard
// library only): heads, fields, framing, chunked bodies, URLs, and the
// server's and client's protocol decisions as pure functions.
#pragma once

#include "http/batch.hpp"
#include "http/chunked.hpp"
#include "http/cookie.hpp"
#include "http/cors.hpp"
#include "http/decimal.hpp"
#include "http/event_stream.hpp"
#include "http/fields.hpp"
#include "http/format.hpp"
#include "http/framing.hpp"
#include "http/host.hpp"
#include "http/head.hpp"
#include "http/message.hpp"
#include "http/persistence.hpp"
#include "http/request_decision.hpp"
#include "http/response_action.hpp"
#include "http/url.hpp"
