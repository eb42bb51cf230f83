// The ssepp error category: codes compare, and every message says what was
// wrong and what was expected.
#include <ssepp/error.hpp>

#include <doctest/doctest.h>

#include <ostream>
#include <string>

TEST_CASE("errc converts to an error_code of the ssepp category") {
  const std::error_code ec = ssepp::errc::line_too_long;
  CHECK(ec == ssepp::errc::line_too_long);
  CHECK(ec != ssepp::errc::event_too_large);
  CHECK(std::string(ec.category().name()) == "ssepp");
  CHECK(ec);
}

TEST_CASE("every code has its own message naming the limit or the rule") {
  const ssepp::errc all[] = {ssepp::errc::line_too_long,
                             ssepp::errc::event_too_large,
                             ssepp::errc::invalid_event_type,
                             ssepp::errc::invalid_event_id,
                             ssepp::errc::invalid_retry,
                             ssepp::errc::sink_full,
                             ssepp::errc::bad_url,
                             ssepp::errc::tls_unavailable,
                             ssepp::errc::http_status,
                             ssepp::errc::wrong_content_type,
                             ssepp::errc::too_many_redirects,
                             ssepp::errc::bad_response,
                             ssepp::errc::response_head_too_large,
                             ssepp::errc::stalled,
                             ssepp::errc::connect_timeout,
                             ssepp::errc::stream_ended,
                             ssepp::errc::invalid_request};
  CHECK(make_error_code(ssepp::errc::line_too_long).message().find("max_line_size") !=
        std::string::npos);
  CHECK(make_error_code(ssepp::errc::event_too_large).message().find("max_event_size") !=
        std::string::npos);
  for (std::size_t i = 0; i < std::size(all); ++i)
    for (std::size_t j = i + 1; j < std::size(all); ++j)
      CHECK(make_error_code(all[i]).message() != make_error_code(all[j]).message());
  CHECK(ssepp::error_category().message(999) == "unknown ssepp error");
}
