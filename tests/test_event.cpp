// The event value types.
#include <ssepp/event.hpp>

#include <doctest/doctest.h>

TEST_CASE("an owning event views its own strings") {
  ssepp::event ev{"d", "t", "i", std::chrono::milliseconds{7}};
  const ssepp::event_view view = ev;
  CHECK(view.data.data() == ev.data.data());
  CHECK(view.type == "t");
  CHECK(view.id == "i");
  CHECK(view.retry == std::chrono::milliseconds{7});
}

TEST_CASE("defaults: no type, no id, no retry") {
  const ssepp::event_view view{"x"};
  CHECK(view.type.empty());
  CHECK(view.id.empty());
  CHECK_FALSE(view.retry.has_value());
}
