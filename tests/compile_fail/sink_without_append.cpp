// Misuse: formatting into a sink without append (here it has write).
// With SSEPP_COMPILE_FAIL=1 this must not compile, and the diagnostic must
// name the missing member and its signature; with 0 it builds and runs.
#include <ssepp/format.hpp>

#include <cstddef>
#include <string>

struct sink {
  std::string bytes;
#if SSEPP_COMPILE_FAIL
  void write(const char* data, std::size_t size) { bytes.append(data, size); }
#else
  void append(const char* data, std::size_t size) { bytes.append(data, size); }
#endif
};

int main() {
  sink out;
  ssepp::event_view ev;
  ev.data = "hello";
  const bool failed = static_cast<bool>(ssepp::format(out, ev));
  return !failed && out.bytes == "data: hello\n\n" ? 0 : 1;
}
