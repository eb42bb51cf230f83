// ssepp::httplib on a real cpp-httplib server over loopback: the stream's
// head and framing as a raw socket sees them, replay, the thread pool under
// many streams, a client that leaves, and stopping. Waits poll with generous
// deadlines; nothing asserts how long anything took.
#include <ssepp/httplib/event_stream.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <ssepp/parser.hpp>

using namespace std::chrono_literals;
using strings = std::vector<std::string>;

namespace {

constexpr auto deadline_span = 20s;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Polls `done` until it holds or a generous deadline passes.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + deadline_span;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
    std::this_thread::sleep_for(5ms);  // a polling loop's pause, bounded by the deadline
  }
  return true;
}

// A client on a raw socket: sends a request, reads the head, then decodes
// the chunked body as it arrives, as a browser's network layer would.
class raw_client {
 public:
  explicit raw_client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  ~raw_client() { close(); }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void send_get(const std::string& target, const std::vector<std::string>& extra_fields = {}) {
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& f : extra_fields) request += f + "\r\n";
    request += "\r\n";
    REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
  }

  // Reads until the head is complete; false on timeout or EOF.
  bool read_head() {
    const auto deadline = std::chrono::steady_clock::now() + deadline_span;
    std::size_t end;
    while ((end = raw_.find("\r\n\r\n")) == std::string::npos)
      if (!read_some(deadline)) return false;
    const std::string head = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      fields.emplace(lower(line.substr(0, colon)), value);
    }
    return true;
  }

  // One field's value; empty when it is absent.
  std::string field(const std::string& name) const {
    const auto it = fields.find(lower(name));
    return it == fields.end() ? std::string() : it->second;
  }

  // Reads and decodes body chunks until `done(body)` holds, the body ends,
  // or the deadline passes.
  bool read_body_until(const std::function<bool(const std::string&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + deadline_span;
    for (;;) {
      decode();
      if (done(body)) return true;
      if (ended || !read_some(deadline)) return false;
    }
  }
  bool read_to_end() {
    return read_body_until([this](const std::string&) { return ended; }) || ended;
  }

  // Every event's data, as a browser would dispatch them.
  strings data() const {
    struct reader {
      strings data;
      void on_event(const ssepp::message& m) { data.emplace_back(m.data); }
      void on_retry(std::chrono::milliseconds) {}
      void on_comment(std::string_view) {}
    };
    ssepp::parser<reader> p{reader{}};
    REQUIRE_FALSE(p.feed(body));
    return std::move(p.handler().data);
  }

  int status = 0;
  std::multimap<std::string, std::string> fields;
  std::string body;    // the decoded body so far
  bool ended = false;  // the last chunk arrived

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    raw_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  // Moves whole chunks from raw_ to body.
  void decode() {
    for (;;) {
      const std::size_t line_end = raw_.find("\r\n");
      if (line_end == std::string::npos) return;
      const std::size_t size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
      if (size == 0) {
        ended = true;
        raw_.clear();
        return;
      }
      if (raw_.size() < line_end + 2 + size + 2) return;
      body.append(raw_, line_end + 2, size);
      raw_.erase(0, line_end + 2 + size + 2);
    }
  }

  int fd_ = -1;
  std::string raw_;
};

// A cpp-httplib server with an existing route and ssepp's streams, listening
// on a free loopback port on its own thread.
struct server_fixture {
  ::httplib::Server server;
  std::optional<ssepp::httplib::event_stream_server> events;
  std::future<bool> listening;
  int port = 0;

  explicit server_fixture(ssepp::httplib::event_stream_options o = options()) {
    server.Get("/hello", [](const ::httplib::Request&, ::httplib::Response& res) {
      res.set_content("hello\n", "text/plain");
    });
    events.emplace(server, std::move(o));
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    listening = std::async(std::launch::async, [this] { return server.listen_after_bind(); });
    REQUIRE(eventually([&] { return server.is_running(); }));
  }
  ~server_fixture() { stop(); }
  server_fixture(const server_fixture&) = delete;
  server_fixture& operator=(const server_fixture&) = delete;

  // Ends the streams, then the server; true when listen returned.
  bool stop() {
    if (!listening.valid()) return true;
    events->stop();
    server.stop();
    const bool stopped = listening.wait_for(deadline_span) == std::future_status::ready;
    if (stopped) listening.get();
    return stopped;
  }

  static ssepp::httplib::event_stream_options options() {
    ssepp::httplib::event_stream_options o;
    o.hub.epoch = "e";
    o.hub.initial_retry = std::nullopt;
    return o;
  }

  std::string publish(const std::string& channel, const std::string& data,
                      const std::string& id = {}) {
    const auto r = events->publish(channel, {data, {}, id});
    REQUIRE_FALSE(r.error);
    return r.id;
  }

  std::size_t subscribers() { return events->hub().stats().subscribers; }

  // GET /hello through cpp-httplib's own client; its status, or -1.
  int hello() {
    ::httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(10);
    client.set_read_timeout(10);
    const auto res = client.Get("/hello");
    return res ? res->status : -1;
  }

  // A raw client whose stream is open (its head read).
  std::unique_ptr<raw_client> open(const std::string& target,
                                   const std::vector<std::string>& fields = {}) {
    auto c = std::make_unique<raw_client>(port);
    c->send_get(target, fields);
    REQUIRE(c->read_head());
    return c;
  }
};

bool has_data(const raw_client& c, std::size_t n) { return c.data().size() >= n; }

}  // namespace

TEST_CASE("the stream's head has exactly the event stream fields, uncompressed for br and gzip") {
  server_fixture f;
  auto c = f.open("/events/news", {"Accept-Encoding: br, gzip"});
  CHECK(c->status == 200);
  CHECK(c->fields.count("content-type") == 1);
  CHECK(c->field("Content-Type") == "text/event-stream");
  CHECK(c->field("Cache-Control") == "no-cache");
  CHECK(c->field("X-Accel-Buffering") == "no");
  CHECK(c->fields.count("content-encoding") == 1);
  CHECK(c->field("Content-Encoding") == "identity");
  CHECK(c->field("Transfer-Encoding") == "chunked");
  CHECK(c->field("Content-Length").empty());
  f.publish("news", "hello");
  // The body is plain event-stream text, event by event, not compressed.
  REQUIRE(c->read_body_until([](const std::string& b) { return b.find("\n\n") != b.npos; }));
  CHECK(c->body == "id: e-1\ndata: hello\n\n");
}

TEST_CASE("an event published as soon as the head arrives is in the stream") {
  server_fixture f;
  auto c = f.open("/events/news");
  // Subscribed before the head went out: nothing to wait for here.
  f.publish("news", "first");
  f.publish("news", "second");
  REQUIRE(c->read_body_until([&](const std::string&) { return has_data(*c, 2); }));
  CHECK(c->data() == strings{"first", "second"});
}

TEST_CASE("events reach only the streams of their channel") {
  server_fixture f;
  auto news = f.open("/events/news");
  auto sport = f.open("/events/sport");
  f.publish("sport", "goal");
  f.publish("news", "headline");
  REQUIRE(news->read_body_until([&](const std::string&) { return has_data(*news, 1); }));
  REQUIRE(sport->read_body_until([&](const std::string&) { return has_data(*sport, 1); }));
  CHECK(news->data() == strings{"headline"});
  CHECK(sport->data() == strings{"goal"});
}

TEST_CASE("a reconnect replays the events after its last event id") {
  server_fixture f;
  const auto first = f.publish("news", "1", "a1");
  f.publish("news", "2", "a2");
  f.publish("news", "3", "a3");
  std::unique_ptr<raw_client> c;
  SUBCASE("from the Last-Event-ID header") {
    c = f.open("/events/news", {"Last-Event-ID: " + first});
  }
  SUBCASE("from ?lastEventId=") { c = f.open("/events/news?lastEventId=" + first); }
  SUBCASE("the header winning over the query") {
    c = f.open("/events/news?lastEventId=a2", {"Last-Event-ID: " + first});
  }
  REQUIRE(c->read_body_until([&](const std::string&) { return has_data(*c, 2); }));
  CHECK(c->data() == strings{"2", "3"});
}

TEST_CASE("more streams than cpp-httplib's default pool has threads leave /hello answering") {
  server_fixture f;
  const std::size_t streams = CPPHTTPLIB_THREAD_POOL_COUNT + 4;
  std::vector<std::unique_ptr<raw_client>> clients;
  for (std::size_t i = 0; i < streams; ++i) clients.push_back(f.open("/events/news"));
  CHECK(f.events->open_streams() == streams);
  CHECK(f.hello() == 200);
  f.publish("news", "to all");
  for (auto& c : clients)
    CHECK(c->read_body_until([&](const std::string&) { return has_data(*c, 1); }));
}

TEST_CASE("a stream beyond max_streams is refused with 503 and Retry-After, and /hello answers") {
  auto o = server_fixture::options();
  o.max_streams = 2;
  o.plain_threads = 2;
  server_fixture f{o};
  auto a = f.open("/events/news");
  auto b = f.open("/events/news");
  auto refused = f.open("/events/news");
  CHECK(refused->status == 503);
  CHECK(refused->field("Retry-After") == "5");
  CHECK(f.hello() == 200);
  CHECK(f.subscribers() == 2);
  // A slot freed is a slot to take again.
  a->close();
  REQUIRE(eventually([&] { return f.events->open_streams() == 1; }));
  auto c = f.open("/events/news");
  CHECK(c->status == 200);
}

TEST_CASE("a client that leaves an idle stream is unsubscribed within the poll interval") {
  auto o = server_fixture::options();
  o.hub.heartbeat_interval = std::chrono::seconds{60};  // no heartbeat would notice it
  server_fixture f{o};
  auto c = f.open("/events/news");
  REQUIRE(eventually([&] { return f.subscribers() == 1; }));
  c->close();
  CHECK(eventually([&] { return f.subscribers() == 0 && f.events->open_streams() == 0; }));
}

TEST_CASE("heartbeats reach an idle stream without the user calling tick") {
  auto o = server_fixture::options();
  o.hub.heartbeat_interval = std::chrono::milliseconds{50};
  server_fixture f{o};
  auto c = f.open("/events/news");
  CHECK(c->read_body_until([](const std::string& b) { return b.find(":\n") != b.npos; }));
}

TEST_CASE("a burst of events all arrive: what coalescing holds back is flushed") {
  auto o = server_fixture::options();
  o.hub.coalesce_window = std::chrono::milliseconds{20};
  server_fixture f{o};
  auto c = f.open("/events/news");
  strings expected;
  for (int i = 0; i < 50; ++i) {
    expected.push_back(std::to_string(i));
    f.publish("news", expected.back());
  }
  REQUIRE(c->read_body_until([&](const std::string&) { return has_data(*c, 50); }));
  CHECK(c->data() == expected);
}

TEST_CASE("the authorization hook answers before anything is subscribed") {
  auto o = server_fixture::options();
  o.authorize = [](const ::httplib::Request& req) {
    ssepp::httplib::authorization verdict;
    if (req.get_header_value("X-Token") != "yes") verdict = {401, "token missing\n"};
    return verdict;
  };
  server_fixture f{o};
  auto refused = f.open("/events/news");
  CHECK(refused->status == 401);
  CHECK(f.subscribers() == 0);
  auto allowed = f.open("/events/news", {"X-Token: yes"});
  CHECK(allowed->status == 200);
}

TEST_CASE("the default channel is the path after the prefix, and a path with '/' in it is 404") {
  server_fixture f;
  CHECK(f.open("/events/a/b")->status == 404);
  CHECK(f.open("/events/a%2Fb")->status == 404);  // decoded by cpp-httplib first
  CHECK(f.subscribers() == 0);
  auto plain = f.open("/events/a");
  CHECK(plain->status == 200);
  f.publish("a", "to a");
  REQUIRE(plain->read_body_until([&](const std::string&) { return has_data(*plain, 1); }));
  CHECK(plain->data() == strings{"to a"});
}

TEST_CASE("an authorization hook of the embedded server's type serves cpp-httplib too") {
  static_assert(std::is_same_v<ssepp::httplib::authorization, ssepp::http::auth_result>);
  auto o = server_fixture::options();
  o.authorize = [](const ::httplib::Request&) { return ssepp::http::auth_result{403, "no\n"}; };
  server_fixture f{o};
  auto refused = f.open("/events/news");
  CHECK(refused->status == 403);
  CHECK(f.subscribers() == 0);
}

TEST_CASE("a channel mapper chooses the channels, and none found answers 404") {
  auto o = server_fixture::options();
  o.prefix = "/feed/";
  o.channels = [](const ::httplib::Request& req) {
    strings channels;
    if (req.matches[1] == "both") channels = {"a", "b"};
    return channels;
  };
  server_fixture f{o};
  auto both = f.open("/feed/both");
  CHECK(both->status == 200);
  CHECK(f.open("/feed/other")->status == 404);
  f.publish("a", "from a");
  f.publish("b", "from b");
  REQUIRE(both->read_body_until([&](const std::string&) { return has_data(*both, 2); }));
  CHECK(both->data() == strings{"from a", "from b"});
}

TEST_CASE("stop ends every stream after its last word, refuses new ones, and the server stops") {
  server_fixture f;
  auto a = f.open("/events/news");
  auto b = f.open("/events/sport");
  f.publish("news", "queued");
  f.events->stop(ssepp::event_view{"bye"});
  for (auto* c : {a.get(), b.get()}) {
    CHECK(c->read_to_end());  // the body's last chunk: a clean end
    CHECK(c->data().back() == "bye");
  }
  CHECK(eventually([&] { return f.events->open_streams() == 0 && f.subscribers() == 0; }));
  CHECK(f.open("/events/news")->status == 503);
  a.reset();
  b.reset();
  CHECK(f.stop());
}

TEST_CASE("README: cpp-httplib, the snippet as written serves and publishes") {
  // The README's lines, with listen() split into bind + listen_after_bind
  // so the test learns the port.
  httplib::Server server;
  ssepp::httplib::event_stream_server events(server);  // GET /events/{channel}
  server.Post(R"(/publish/([^/]+))", [&](const httplib::Request& req, httplib::Response& res) {
    res.set_content(events.publish(req.matches[1].str(), {req.body}).id, "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  auto listening = std::async(std::launch::async, [&] { return server.listen_after_bind(); });
  REQUIRE(eventually([&] { return server.is_running(); }));

  raw_client reader(port);
  reader.send_get("/events/company-42", {});
  REQUIRE(reader.read_head());
  httplib::Client publisher("127.0.0.1", port);
  const auto answer =
      publisher.Post("/publish/company-42", R"({"menu":"updated"})", "application/json");
  REQUIRE(answer);
  CHECK(answer->status == 200);
  CHECK_FALSE(answer->body.empty());  // the event's id
  REQUIRE(reader.read_body_until([&](const std::string&) { return has_data(reader, 1); }));
  CHECK(reader.data() == strings{R"({"menu":"updated"})"});

  events.stop();
  server.stop();
  REQUIRE(listening.wait_for(deadline_span) == std::future_status::ready);
}
