// rtk_query_server: the server behind the production front end of the notes
// ssepp comes from, a Redux Toolkit Query API whose cache entries each hold
// one company's event stream (src/sseApi.js). The page and the streams share
// one origin, and a session cookie says who is signed in:
//
//   GET  /sseapi/crm/sse-emitter/{companyId}   the company's MENU_UPDATE_END
//                                              events (channel company-{id});
//                                              401 without a session
//   POST /api/login       user=NAME: sets the session cookie
//   POST /api/logout      ends the session
//   GET  /api/session     200 {"user":NAME} or 401
//   GET  /admin           a form that publishes a MENU_UPDATE_END
//   POST /api/menu-update companyId=N&courseId=N&courseName=TEXT: publishes
//                         it (needs a session too); answers {"id":…}
//   GET  /metrics         Prometheus metrics
//   GET  /*               the Vite build (--static DIR)
//
// With curl (a session first, kept in a cookie jar):
//
//   curl -c jar -d user=admin http://127.0.0.1:8090/api/login
//   curl -b jar -N http://127.0.0.1:8090/sseapi/crm/sse-emitter/1
//   curl -b jar -d companyId=1 -d courseId=7 -d courseName=Algebra
//   http://127.0.0.1:8090/api/menu-update
//
// Why publishing is safe to leave to any signed-in user here: a request
// must carry the session cookie, which is HttpOnly and SameSite=Lax (another
// site's form does not send it along with a POST), and a request from another
// origin is refused 403 anyway (no --cors: the server allows no origin but
// its own). A real application would also check the user's role.
//
// Sessions live in memory, or with --sessions FILE also in a file, so that a
// restarted server still knows who is signed in. With --redis the channels
// live in Redis (the ssepp::redis backplane): ids come from Redis, and a
// browser whose server restarted resumes with Last-Event-ID and misses
// nothing, which the process's own history cannot offer across a restart.
#include <asio.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <ssepp/asio/metrics.hpp>
#include <ssepp/asio/server.hpp>
#if SSEPP_RTK_QUERY_REDIS
#include "../common/redis_node.hpp"
#endif

#include "../common/command_line.hpp"
#include "../common/server_main.hpp"

namespace {

constexpr const char* usage_text =
    R"(Usage: rtk_query_server [OPTION]...
Serve one event stream per company to the Redux Toolkit Query page, behind
a session cookie (see the comment at the top of main.cpp for the routes).

Options:
  --host ADDRESS        address to listen on (default 127.0.0.1)
  --port N              port to listen on; 0 picks a free one (default 8090)
  --static DIR          serve the page's files (the Vite build) from DIR
  --sessions FILE       keep the sessions in FILE too, so that a restart
                        keeps users signed in (default: memory only)
  --heartbeat-ms N      comment line to streams idle this long; 0: none
                        (default 15000)
  --retry-ms N          reconnection delay sent to each new stream
                        (default 3000)
  --redis redis://HOST[:PORT][/DB]
                        keep the channels in Redis: ids are assigned by it,
                        and streams resume across server restarts
                        (default: none)
  --redis-prefix P      the Redis key prefix (default rtk_query:)
  --verbose             also log every stream's end (to stderr)
  -h, --help            print this help and exit
Prints "rtk_query_server: listening on http://HOST:PORT/" once listening;
SIGINT or SIGTERM stops it gracefully.
)";

constexpr std::string_view stream_prefix = "/sseapi/crm/sse-emitter/";
constexpr std::string_view publish_path = "/api/menu-update";
constexpr std::string_view session_cookie = "session";

struct command_line {
  ssepp::asio::server_options server;
  std::string sessions_file;
  std::optional<std::string> redis_url;
  std::string redis_prefix = "rtk_query:";
  bool verbose = false;
  bool help = false;
};

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  auto& o = cl.server;
  o.port = 8090;
  o.events_prefix.clear();  // the one stream route is the notes' path, below
  o.hub.heartbeat_interval = std::chrono::seconds{15};
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.flag("--verbose")) {
      cl.verbose = true;
    } else if (args.is("--host")) {
      o.host = args.value();
    } else if (args.is("--port")) {
      o.port = args.number<std::uint16_t>();
    } else if (args.is("--static")) {
      o.static_root = args.value();
    } else if (args.is("--sessions")) {
      cl.sessions_file = args.value();
    } else if (args.is("--heartbeat-ms")) {
      o.hub.heartbeat_interval = std::chrono::milliseconds{args.number<std::uint32_t>()};
    } else if (args.is("--retry-ms")) {
      o.hub.initial_retry = std::chrono::milliseconds{args.number<std::uint32_t>()};
    } else if (args.is("--redis")) {
      cl.redis_url = args.value();
    } else if (args.is("--redis-prefix")) {
      cl.redis_prefix = args.value();
      if (cl.redis_prefix.empty()) throw example::usage_error("--redis-prefix needs a prefix");
    } else {
      args.unknown();
    }
  }
  // Heartbeats go out from the server's tick: tick at least twice per
  // interval so an idle stream hears from us within 1.5 intervals.
  const auto heartbeat = o.hub.heartbeat_interval;
  if (heartbeat.count() > 0 && heartbeat < 2 * o.tick_interval)
    o.tick_interval = std::max(std::chrono::milliseconds{10}, heartbeat / 2);
  return cl;
}

// ---------------------------------------------------------------------------
// Sessions

/// The signed-in users by session token. A real application keeps these in
/// its session store (a database, Redis); this one keeps them in memory
/// and, when given a file, writes them there on every change and reads them
/// back at start.
///
/// Thread safety: every member may be called from any thread.
class session_store {
 public:
  /// Sessions held at most (each costs about 100 bytes).
  static constexpr std::size_t max_sessions = 10000;

  explicit session_store(std::string file) : file_(std::move(file)) { load(); }

  /// Signs `user` in; returns the new session's token.
  std::string open(const std::string& user) {
    std::lock_guard<std::mutex> lock(mutex_);
    // 128 bits from the operating system's generator (std::random_device
    // reads /dev/urandom on Linux): a token nobody can guess.
    static constexpr char hex[] = "0123456789abcdef";
    std::string token;
    for (int word = 0; word < 4; ++word) {
      auto bits = random_();
      for (int digit = 0; digit < 8; ++digit, bits >>= 4) token.push_back(hex[bits & 15u]);
    }
    // Bounded, whoever keeps signing in: past the bound, a session at random
    // (tokens are random, so the map's first one is) makes room.
    if (users_.size() >= max_sessions) users_.erase(users_.begin());
    users_[token] = user;
    save();
    return token;
  }

  /// The user signed in with `token`, if any.
  std::optional<std::string> user_of(std::string_view token) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = users_.find(token);
    if (it == users_.end()) return std::nullopt;
    return it->second;
  }

  void close(std::string_view token) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = users_.find(token);
    if (it == users_.end()) return;
    users_.erase(it);
    save();
  }

 private:
  // One "TOKEN USER" line per session (user names hold no line breaks).
  void load() {
    if (file_.empty()) return;
    std::ifstream in(file_);
    std::string token, user;
    while (in >> token && std::getline(in >> std::ws, user)) users_[token] = user;
  }
  void save() const {
    if (file_.empty()) return;
    // Written aside and renamed over: a crash mid-write loses no session.
    const std::string temporary = file_ + ".new";
    {
      std::ofstream out(temporary, std::ios::trunc);
      for (const auto& [token, user] : users_) out << token << ' ' << user << '\n';
    }
    std::error_code ec;
    std::filesystem::rename(temporary, file_, ec);
    // The sessions still hold in memory: say so, and go on.
    if (ec)
      std::fprintf(stderr, "rtk_query_server: cannot write the sessions to '%s': %s\n",
                   file_.c_str(), ec.message().c_str());
  }

  std::string file_;
  mutable std::mutex mutex_;  // guards users_ and random_
  std::map<std::string, std::string, std::less<>> users_;
  std::random_device random_;
};

// ---------------------------------------------------------------------------
// Requests and answers

using ssepp::asio::request;
using ssepp::asio::response;

using json = nlohmann::json;

// JSON for the wire: bytes that are not UTF-8 (a course name is the
// user's) become U+FFFD rather than an exception.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

response json_answer(int status, const json& body) {
  response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = dump(body) + "\n";
  return r;
}

response error_answer(int status, std::string_view message) {
  return json_answer(status, {{"error", message}});
}

/// {"user":NAME}
json user_json(std::string_view user) { return {{"user", user}}; }

/// A field of a form-encoded body (what an HTML form and `curl -d` send):
/// the same encoding as a query string.
std::optional<std::string> form_field(const request& req, std::string_view name) {
  return ssepp::http::query_param(req.body, name);
}

/// A company or course id: digits only, as the path and the form carry it.
std::optional<std::uint32_t> parse_id(std::string_view text) {
  return ssepp::http::parse_decimal<std::uint32_t>(text);
}

std::string channel_of(std::uint32_t company_id) { return "company-" + std::to_string(company_id); }

/// The stream's channel: /sseapi/crm/sse-emitter/{companyId} with a
/// companyId of digits only; anything else has no channel (404).
std::vector<std::string> stream_channels(const request& req) {
  const auto company_id = parse_id(std::string_view(req.path).substr(stream_prefix.size()));
  if (!company_id) return {};
  return {channel_of(*company_id)};
}

/// A MENU_UPDATE_END to publish, read from the form, or the answer refusing
/// the form.
struct menu_update {
  std::string channel;
  ssepp::event event;
};

std::optional<menu_update> read_menu_update(const request& req, response& refusal) {
  const auto company_id = parse_id(form_field(req, "companyId").value_or(""));
  const auto course_id = parse_id(form_field(req, "courseId").value_or(""));
  const auto course_name = form_field(req, "courseName").value_or("");
  if (!company_id || !course_id || course_name.empty() || course_name.size() > 200) {
    refusal = error_answer(400,
                           "send companyId and courseId (digits) and courseName (1 to 200 "
                           "bytes), form-encoded");
    return std::nullopt;
  }
  // The shape the page's JSON.parse(event.data) reads; ids as numbers.
  menu_update update;
  update.channel = channel_of(*company_id);
  update.event.type = "MENU_UPDATE_END";
  update.event.data =
      dump({{"companyId", *company_id}, {"courseId", *course_id}, {"courseName", course_name}});
  return update;
}

/// What publishing answered: the event's id, or why not.
response publish_answer(const std::string& channel, const ssepp::publish_result& result) {
  if (result.error) {
    // Redis unreachable or too many channels: not the request's fault.
    const bool retry = result.error == ssepp::errc::backplane_unavailable ||
                       result.error == ssepp::errc::too_many_channels;
    response r = error_answer(retry ? 503 : 400, result.error.message());
    if (retry) r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  return json_answer(200, {{"channel", channel}, {"id", result.id}});
}

// The admin page: a plain form, posted by fetch so that the page can say
// which id the event got. Same origin, so the session cookie goes along.
constexpr const char* admin_page = R"(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>rtk_query admin: publish a menu update</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}label{display:block;margin:.4rem 0}</style>
</head>
<body>
<h1>Publish a MENU_UPDATE_END</h1>
<p>Sign in on <a href="/">the main page</a> first: publishing needs the session cookie.</p>
<form id="publish">
  <label>companyId <input name="companyId" data-testid="admin-company" value="1" required></label>
  <label>courseId <input name="courseId" data-testid="admin-course-id" value="7" required></label>
  <label>courseName <input name="courseName" data-testid="admin-course-name" value="Algebra" required></label>
  <button type="submit" data-testid="admin-publish">Publish</button>
</form>
<p data-testid="admin-result" id="result"></p>
<script>
document.getElementById('publish').addEventListener('submit', async (e) => {
  e.preventDefault();
  const result = document.getElementById('result');
  result.textContent = 'publishing...';
  const answer = await fetch('/api/menu-update', { method: 'POST', body: new URLSearchParams(new FormData(e.target)) });
  const body = await answer.json();
  result.textContent = answer.ok ? 'published id ' + body.id : 'refused (' + answer.status + '): ' + body.error;
});
</script>
</body>
</html>
)";

/// The user names /api/login takes: short, printable, one line.
bool valid_user_name(std::string_view user) {
  if (user.empty() || user.size() > 64) return false;
  return std::all_of(user.begin(), user.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
}

/// Adds the routes: sessions, the stream, publishing, the admin page and
/// metrics. `publish` hands an event to the hub or to the backplane and
/// calls back with its id.
using publisher = std::function<void(menu_update, std::function<void(ssepp::publish_result)>)>;

void add_routes(ssepp::asio::server& s, session_store& sessions, publisher publish) {
  s.sse_route(std::string(stream_prefix), stream_channels);

  s.route("POST", "/api/login", [&sessions](const request& req) {
    const auto user = form_field(req, "user");
    if (!user || !valid_user_name(*user))
      return error_answer(400, "send user=NAME (1 to 64 printable bytes), form-encoded");
    response r = json_answer(200, user_json(*user));
    // HttpOnly: page scripts never see the token. SameSite=Lax: another
    // site's POST does not carry it. No Max-Age: it ends with the browser.
    r.headers.emplace_back("Set-Cookie", std::string(session_cookie) + "=" + sessions.open(*user) +
                                             "; HttpOnly; SameSite=Lax; Path=/");
    return r;
  });

  s.route("POST", "/api/logout", [&sessions](const request& req) {
    if (const auto token = req.cookie(session_cookie)) sessions.close(*token);
    response r = json_answer(200, json::object());
    r.headers.emplace_back(
        "Set-Cookie", std::string(session_cookie) + "=; Max-Age=0; HttpOnly; SameSite=Lax; Path=/");
    return r;
  });

  // The page asks this when its stream is refused, to say why.
  s.route("GET", "/api/session", [&sessions](const request& req) {
    const auto token = req.cookie(session_cookie);
    const auto user = token ? sessions.user_of(*token) : std::nullopt;
    if (!user) return error_answer(401, "not signed in");
    return json_answer(200, user_json(*user));
  });

  s.route("GET", "/admin", [](const request&) {
    response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = admin_page;
    return r;
  });

  s.route_async("POST", std::string(publish_path),
                [publish](const request& req, std::function<void(response)> reply) {
                  response refusal;
                  auto update = read_menu_update(req, refusal);
                  if (!update) return reply(std::move(refusal));
                  std::string channel = update->channel;
                  publish(std::move(*update),
                          [channel = std::move(channel),
                           reply = std::move(reply)](const ssepp::publish_result& result) {
                            reply(publish_answer(channel, result));
                          });
                });

  // Public here, to keep the test and the demo simple; in production it
  // tells who subscribes to what, so keep it on an internal port or behind
  // the session check.
  s.route("GET", "/metrics", [&s](const request&) { return ssepp::asio::metrics_response(s); });
}

/// The authorization hook: the stream and publishing need a session; the
/// page, the admin form and the session routes themselves do not.
ssepp::asio::auth_result authorize(const session_store& sessions, const request& req) {
  ssepp::asio::auth_result verdict;
  const std::string_view path = req.path;
  if (path.substr(0, stream_prefix.size()) != stream_prefix && path != publish_path) return verdict;
  const auto token = req.cookie(session_cookie);
  if (!token || !sessions.user_of(*token)) {
    verdict.status = 401;
    verdict.message = "not signed in: POST /api/login first (cookie " +
                      std::string(session_cookie) + " missing or unknown)\n";
  }
  return verdict;
}

int run(command_line& cl) {
  auto& o = cl.server;
  std::error_code ec;
  if (!o.static_root.empty() && !std::filesystem::is_directory(o.static_root, ec)) {
    std::fprintf(stderr, "rtk_query_server: --static '%s' is not a folder\n",
                 o.static_root.c_str());
    return 1;
  }
  const bool verbose = cl.verbose;
  o.log = example::stderr_log("rtk_query_server", verbose);
  session_store sessions(cl.sessions_file);
  o.authorize = [&sessions](const request& req) { return authorize(sessions, req); };

#if SSEPP_RTK_QUERY_REDIS
  // Streams resume through Redis: after a restart this process's history
  // is empty, Redis still has every event.
  example::redis_node redis("rtk_query_server");
  if (cl.redis_url && !redis.configure(*cl.redis_url, cl.redis_prefix, o)) return 1;
#else
  if (cl.redis_url) return example::redis_not_built("rtk_query_server");
#endif

  ssepp::asio::server s(o);
  publisher publish = [&s](menu_update update, std::function<void(ssepp::publish_result)> done) {
    // The hub numbers the event and keeps it in the channel's history.
    done(s.hub().publish(update.channel, update.event));
  };
#if SSEPP_RTK_QUERY_REDIS
  if (cl.redis_url) {
    // Redis numbers the event and keeps it; every server on it delivers it.
    publish = [&s](menu_update update, std::function<void(ssepp::publish_result)> done) {
      std::vector<ssepp::event> events{std::move(update.event)};
      s.options().backplane.publish(std::move(update.channel), std::move(events),
                                    [done = std::move(done)](ssepp::batch_publish_result result) {
                                      ssepp::publish_result one;
                                      one.error = result.error;
                                      if (!result.ids.empty())
                                        one.id = std::move(result.ids.front());
                                      done(one);
                                    });
    };
  }
#endif
  add_routes(s, sessions, std::move(publish));

#if SSEPP_RTK_QUERY_REDIS
  const auto redis_running = redis.start(s);
#endif

  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&s](std::error_code, int) { s.stop(); });
  if (!example::start_listening("rtk_query_server", s)) return 1;
  io.run();
  s.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("rtk_query_server", usage_text, argc, argv, parse_command_line, run);
}
