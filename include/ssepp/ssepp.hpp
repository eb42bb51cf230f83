// Umbrella header: everything in ssepp's core (no Asio needed).
#pragma once

#include "error.hpp"
#include "event.hpp"
#include "format.hpp"
#include "parser.hpp"
#include "sink.hpp"
#include "version.hpp"
