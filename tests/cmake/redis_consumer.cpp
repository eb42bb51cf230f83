// A project using ssepp's Redis backplane through ssepp::redis (with
// ssepp::asio): the target must give hiredis's headers and library. The
// program publishes with no Redis to reach, so the answer is the error a
// server turns into 503, and stops.
#include <ssepp/asio/server.hpp>
#include <ssepp/redis/backplane.hpp>
#include <ssepp/ssepp.hpp>

#include <cstdio>

int main() {
  const auto address = ssepp::redis::parse_url("redis://127.0.0.1:1");
  if (!address) return 1;
  ssepp::asio::server server;
  ssepp::asio::net::io_context io;
  ssepp::redis::backplane_options options;
  options.redis = *address;
  ssepp::redis::backplane<ssepp::asio::server::hub_type> backplane(io, server.hub(), options);
  std::error_code answer;
  backplane.publish("news", {ssepp::event{"nobody listens", "", ""}},
                    [&](ssepp::batch_publish_result r) {
                      answer = r.error;
                      backplane.stop();
                    });
  io.run_for(std::chrono::seconds(5));
  if (answer != ssepp::errc::backplane_unavailable) {
    std::fprintf(stderr, "expected backplane_unavailable, got '%s'\n", answer.message().c_str());
    return 1;
  }
  std::printf("ssepp %d.%d.%d with the Redis backplane on hiredis %d.%d: %s\n", SSEPP_VERSION_MAJOR,
              SSEPP_VERSION_MINOR, SSEPP_VERSION_PATCH, HIREDIS_MAJOR, HIREDIS_MINOR,
              answer.message().c_str());
  return 0;
}
