// Test helper: the http::request a test writes as text. The head is parsed
// with the default limits and must be complete, so a typo in a test's
// request fails there and then instead of testing something else.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <string_view>

#include <ssepp/http/head.hpp>
#include <ssepp/http/message.hpp>

namespace ssepp_test {

inline ssepp::http::request request_from(std::string_view text) {
  ssepp::http::request req;
  std::size_t size = 0;
  REQUIRE(ssepp::http::parse_request_head(text, {}, req, size) ==
          ssepp::http::head_result::complete);
  return req;
}

}  // namespace ssepp_test
