// fixed_buffer_sink on its own: bookkeeping of what was written and what fits.
#include <ssepp/sink.hpp>

#include <doctest/doctest.h>

TEST_CASE("a fixed buffer sink starts empty with its whole capacity free") {
  char buffer[16];
  ssepp::fixed_buffer_sink sink{buffer};
  CHECK(sink.size() == 0);
  CHECK(sink.remaining() == 16);
  CHECK(sink.data() == buffer);
}

TEST_CASE("append writes in place and counts") {
  char buffer[8];
  ssepp::fixed_buffer_sink sink{buffer, sizeof buffer};
  sink.append("abc", 3);
  sink.append("de", 2);
  CHECK(sink.view() == "abcde");
  CHECK(sink.remaining() == 3);
  sink.clear();
  CHECK(sink.size() == 0);
  CHECK(sink.remaining() == 8);
}

TEST_CASE("a std::string is a sink") {
  static_assert(ssepp::is_sink_v<std::string>);
  struct only_size {
    std::size_t size() const { return 0; }
  };
  static_assert(!ssepp::is_sink_v<only_size>);
}
