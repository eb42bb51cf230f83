// Misuse: a parser handler without on_event (here misspelt on_message).
// With SSEPP_COMPILE_FAIL=1 this must not compile, and the diagnostic must
// name the missing member and its signature; with 0 it builds and runs.
#include <ssepp/parser.hpp>

struct handler {
  int events = 0;
#if SSEPP_COMPILE_FAIL
  void on_message(const ssepp::message&) { ++events; }
#else
  void on_event(const ssepp::message&) { ++events; }
#endif
};

int main() {
  ssepp::parser<handler> parser{handler{}};
  const bool failed = static_cast<bool>(parser.feed("data: hello\n\n"));
  return !failed && parser.handler().events == 1 ? 0 : 1;
}
