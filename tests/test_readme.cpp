// The README's code, compiled and run, so the README cannot drift from the
// library. Each TEST_CASE holds one README snippet (as close to verbatim as
// a test allows) and checks what the README says it does.
#include <ssepp/asio/client.hpp>
#include <ssepp/asio/server.hpp>
#include <ssepp/ssepp.hpp>
#include <ssepp/testing.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("README: formatter") {
  std::string out;  // any sink with append(const char*, size_t)
  std::error_code ec = ssepp::format(out, {R"({"menu":"updated"})", "MENU_UPDATE_END", "42"});
  CHECK_FALSE(ec);
  CHECK(out == "event: MENU_UPDATE_END\nid: 42\ndata: {\"menu\":\"updated\"}\n\n");
}

namespace {
struct readme_handler {
  std::ostringstream* out;
  void on_event(const ssepp::message& m) {  // required
    *out << m.type << ": " << m.data << " (id " << m.last_event_id << ")\n";
  }
  void on_retry(std::chrono::milliseconds) {}  // optional
  void on_comment(std::string_view) {}         // optional
};
}  // namespace

TEST_CASE("README: parser") {
  std::ostringstream out;
  const std::vector<std::string> chunks_from_the_network = {"event: cokolwiek\nda",
                                                            "ta: 4444\nid: 7\n", "\n"};
  ssepp::parser p{readme_handler{&out}};
  for (const auto& chunk : chunks_from_the_network)  // any split, any size
    if (std::error_code ec = p.feed(chunk)) FAIL(ec.message());
  p.reset();  // end of stream: drops an unfinished event, keeps last_event_id()
  CHECK(out.str() == "cokolwiek: 4444 (id 7)\n");
  CHECK(p.last_event_id() == "7");
}

namespace {
// The README's "my_connection": whatever the user's socket layer offers.
// This one completes writes on a thread of its own, never inline.
struct my_connection {
  std::string received;
  std::vector<std::thread> writers;
  std::mutex mutex;
  template <class Handler>
  void write_all(ssepp::buffer_span buffers, Handler&& done) {
    std::string bytes;
    for (const auto& b : buffers) bytes += b;
    writers.emplace_back([this, bytes, done = std::forward<Handler>(done)]() mutable {
      {
        std::lock_guard<std::mutex> lock(mutex);
        received += bytes;
      }
      done(std::error_code{}, bytes.size());
    });
  }
  void close() {}
  ~my_connection() {
    for (auto& t : writers) t.join();
  }
};

struct my_transport {  // one per client connection
  my_connection* conn;
  template <class Handler>
  void async_write(ssepp::buffer_span buffers, Handler&& done) {
    conn->write_all(buffers, std::forward<Handler>(done));  // calls done(ec, n) later
  }
  void close() noexcept { conn->close(); }
};
}  // namespace

TEST_CASE("README: hub on your own socket layer") {
  my_connection connection;
  my_connection* conn = &connection;
  const std::string json = R"({"menu":"updated"})";
  {
    ssepp::hub<my_transport> hub;
    auto sub = hub.subscribe({"company-42"}, my_transport{conn});
    hub.publish("company-42", {json, "MENU_UPDATE_END"});  // from any thread
    hub.tick();  // every second, from one timer: heartbeats, history aging
    // wait for both writes (retry, then the event) before the hub goes
    for (int i = 0; i < 2000 && hub.stats().deliveries == 0; ++i) std::this_thread::sleep_for(1ms);
  }
  std::lock_guard<std::mutex> lock(connection.mutex);
  CHECK(connection.received.find("event: MENU_UPDATE_END\n") != std::string::npos);
  CHECK(connection.received.find("data: " + json + "\n\n") != std::string::npos);
}

TEST_CASE("README: embedded server and client") {
  ssepp::asio::server_options options;
  options.port = 0;  // README: 8080
  options.cors_origins = {"https://app.example.com"};
  options.authorize = [](const ssepp::asio::request& r) {
    return r.cookie("session") ? ssepp::asio::auth_result{}
                               : ssepp::asio::auth_result{401, "log in\n"};
  };
  ssepp::asio::server server(options);  // GET /events/{channel}
  server.start();

  asio::io_context io;
  ssepp::asio::client_options client;
  client.headers = {{"Cookie", "session=abc"}};
  auto source = ssepp::asio::event_source::create(
      io.get_executor(), "http://127.0.0.1:" + std::to_string(server.port()) + "/events/company-42",
      client);
  std::vector<std::string> got;
  source->on("MENU_UPDATE_END", [&](const ssepp::message& m) {
    got.emplace_back(m.data);
    source->close();
  });
  source->on_open([&] {
    server.hub().publish("company-42", {R"({"menu":"updated"})", "MENU_UPDATE_END"});
  });
  source->on_error([](const ssepp::asio::client_error& e) { FAIL_CHECK(e.message); });
  source->start();
  io.run_for(10s);
  CHECK(got == std::vector<std::string>{R"({"menu":"updated"})"});
  server.stop();
  server.wait();
}
