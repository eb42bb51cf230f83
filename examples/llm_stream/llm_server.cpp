// llm_server: streams an answer token by token the way LLM APIs do, on
// OpenAI's chat-completions interface, so that OpenAI's own clients (the
// `openai` npm and Python packages, LangChain, curl) can talk to it:
//
//   POST /v1/chat/completions  {"model":"…","messages":[…],"stream":true}
//   → data: {"id":"chatcmpl-…","object":"chat.completion.chunk",…,
//            "choices":[{"index":0,"delta":{"content":" token"},…}]}
//     … one event per token, a last one with "finish_reason":"stop",
//     data: [DONE]
//     and the end of the response.
//
// There is no model here: the answer is a text given on the command line
// (or a file), cut into word-sized tokens and sent at --tokens-per-second.
// What the example shows is the serving side of an LLM stream:
//   - a POST answered with an event stream (ssepp's stream_route and
//     event_feed: the application writes the events, nothing else
//     subscribes, nothing is kept for replay), ended by the server once the
//     answer is complete, so the client's request ends as well;
//   - an aborted request (the user pressed Stop, the page went away) noticed
//     at once and the generation stopped: tokens are what costs money;
//   - errors before the stream as OpenAI words them (401 for a wrong
//     Authorization: Bearer key, 400 for a body that is not a request), so
//     clients raise their usual exceptions.
//
// Try it:
//   llm_server --api-key sk-test
//   curl -N http://127.0.0.1:8083/v1/chat/completions -H 'Authorization: Bearer sk-test'
//        -H 'Content-Type: application/json'
//        -d '{"model":"ssepp-demo","stream":true,"messages":[{"role":"user","content":"Hi"}]}'
//   (one command line)
//   llm_client --api-key sk-test "Hi"
#include <asio.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#include <ssepp/asio/metrics.hpp>
#include <ssepp/asio/server.hpp>

#include "../common/command_line.hpp"
#include "../common/server_main.hpp"

namespace {

using json = nlohmann::json;

constexpr const char* usage_text =
    R"(Usage: llm_server [OPTION]...
Answer OpenAI chat-completions requests by streaming a text token by token:
  POST /v1/chat/completions   {"messages":[...],"stream":true} streams chunks
                              then "data: [DONE]"; without "stream", one JSON
                              answer
  GET  /metrics               Prometheus metrics

Options:
  --host ADDRESS          address to listen on (default 127.0.0.1)
  --port N                port to listen on; 0 picks a free one (default 8083)
  --tokens-per-second N   pace of the stream; 0: no pause between tokens
                          (default 20)
  --text TEXT             the answer (default: a paragraph about SSE)
  --text-file PATH        the answer, read from a file
  --api-key KEY           require "Authorization: Bearer KEY" (default: none)
  --model NAME            the model name answers report when the request
                          names none (default ssepp-demo)
  --verbose               log every stream's end (to stderr)
  -h, --help              print this help and exit
Prints "llm_server: listening on http://HOST:PORT/" once listening (the real
port with --port 0); SIGINT or SIGTERM stops it gracefully.
)";

constexpr const char* default_text =
    "Server-Sent Events carry a model's answer to the browser as it is written: "
    "one HTTP response, one small event per token, and the page shows each "
    "word the moment it exists. When the reader gives up, the server notices "
    "at once and stops generating.";

struct command_line {
  ssepp::asio::server_options server;
  double tokens_per_second = 20;
  std::string text = default_text;
  std::string api_key;
  std::string model = "ssepp-demo";
  bool verbose = false;
  bool help = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw example::usage_error("cannot read --text-file '" + path + "'");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  cl.server.port = 8083;
  // This server answers only its own routes: no channels, no publishing.
  cl.server.events_prefix.clear();
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.flag("--verbose")) {
      cl.verbose = true;
    } else if (args.is("--host")) {
      cl.server.host = args.value();
    } else if (args.is("--port")) {
      cl.server.port = args.number<std::uint16_t>();
    } else if (args.is("--tokens-per-second")) {
      cl.tokens_per_second = static_cast<double>(args.number<unsigned>(0, 100000));
    } else if (args.is("--text")) {
      cl.text = args.value();
    } else if (args.is("--text-file")) {
      cl.text = read_file(args.value());
    } else if (args.is("--api-key")) {
      cl.api_key = args.value();
    } else if (args.is("--model")) {
      cl.model = args.value();
    } else {
      args.unknown();
    }
  }
  if (cl.text.empty()) throw example::usage_error("the answer's text is empty");
  return cl;
}

// The text as tokens the size of words: each starts with the spaces before
// its word, as a model's tokens do (" world"), so that concatenating them
// gives the text back exactly. Cut at ASCII spaces only: a UTF-8 sequence
// is never split.
std::vector<std::string> tokens_of(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t i = start;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;  // leading spaces
    while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;    // the word
    tokens.emplace_back(text.substr(start, i - start));
    start = i;
  }
  return tokens;
}

// JSON for the wire; invalid UTF-8 in a --text-file becomes U+FFFD rather
// than an exception.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// An error answer as OpenAI's API gives it: clients read error.message and
// raise by status (401: AuthenticationError, 400: BadRequestError).
ssepp::asio::response api_error(int status, std::string message, std::string_view type,
                                std::optional<std::string> code = std::nullopt) {
  ssepp::asio::response r;
  r.status = status;
  r.content_type = "application/json";
  json error = {{"message", std::move(message)}, {"type", type}, {"param", nullptr}};
  error["code"] = code ? json(*code) : json(nullptr);
  r.body = dump(json{{"error", error}}) + "\n";
  return r;
}

// What a request asks for, once it has been checked.
struct completion_request {
  std::string model;
  bool stream = false;
  bool include_usage = false;    // stream_options.include_usage: a last chunk with usage
  std::size_t max_tokens = 0;    // 0: no limit
  std::size_t prompt_words = 0;  // for "usage": the prompt's size, counted as our tokens
};

std::variant<ssepp::asio::response, completion_request> read_request(
    const ssepp::asio::request& req, const command_line& cl) {
  if (!cl.api_key.empty()) {
    const auto authorization = req.header("authorization");
    if (!authorization || *authorization != "Bearer " + cl.api_key) {
      return api_error(401,
                       authorization ? "Incorrect API key provided."
                                     : "You didn't provide an API key (Authorization: Bearer KEY).",
                       "invalid_request_error", std::string("invalid_api_key"));
    }
  }
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return api_error(400, "The request body is not a JSON object.", "invalid_request_error");
  const auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty())
    return api_error(400, "'messages' must be a non-empty array.", "invalid_request_error");
  completion_request out;
  out.model = body.value("model", cl.model);
  if (out.model.empty()) out.model = cl.model;
  out.stream = body.value("stream", false);
  if (const auto o = body.find("stream_options"); o != body.end() && o->is_object())
    out.include_usage = o->value("include_usage", false);
  // max_completion_tokens is the newer name of max_tokens.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const auto m = body.find(name); m != body.end() && m->is_number_unsigned())
      out.max_tokens = m->get<std::size_t>();
  }
  for (const auto& m : *messages) {
    if (m.is_object() && m.contains("content") && m["content"].is_string())
      out.prompt_words += tokens_of(m["content"].get<std::string>()).size();
  }
  return out;
}

// An answer's id and creation time, shared by all its chunks.
struct completion_identity {
  std::string id;
  std::int64_t created;
  std::string model;
};

completion_identity identify(const completion_request& request) {
  static std::atomic<std::uint64_t> next{1};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {"chatcmpl-ssepp" + std::to_string(next.fetch_add(1)),
          std::chrono::duration_cast<std::chrono::seconds>(now).count(), request.model};
}

json usage_of(const completion_request& request, std::size_t completion_tokens) {
  return {{"prompt_tokens", request.prompt_words},
          {"completion_tokens", completion_tokens},
          {"total_tokens", request.prompt_words + completion_tokens}};
}

json chunk(const completion_identity& who, json delta, json finish_reason) {
  return {{"id", who.id},
          {"object", "chat.completion.chunk"},
          {"created", who.created},
          {"model", who.model},
          {"choices",
           json::array(
               {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish_reason}}})}};
}

// One streamed answer: its tokens, paced by a timer on the application's
// own io_context (the server's threads only write), until the last one or
// until the client leaves.
class token_stream : public std::enable_shared_from_this<token_stream> {
 public:
  token_stream(asio::io_context& io, ssepp::asio::event_feed feed, completion_request request,
               const std::vector<std::string>& tokens, std::chrono::nanoseconds interval)
      : timer_(io),
        feed_(std::move(feed)),
        request_(std::move(request)),
        who_(identify(request_)),
        tokens_(tokens),
        interval_(interval) {}

  void start() {
    // The first chunk names the role, with empty content, as OpenAI's do.
    send(chunk(who_, {{"role", "assistant"}, {"content", ""}}, nullptr));
    next_at_ = std::chrono::steady_clock::now();
    schedule();
  }

  // The client left: called on a server thread; the timer is the
  // io_context's, so the cancel goes there.
  void abandon() {
    asio::post(timer_.get_executor(), [self = shared_from_this()] {
      self->abandoned_ = true;
      self->timer_.cancel();
    });
  }

  std::size_t sent() const { return sent_.load(); }

 private:
  void schedule() {
    next_at_ += interval_;
    timer_.expires_at(next_at_);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->abandoned_) return;
      self->next();
    });
  }

  void next() {
    const std::size_t sent = sent_.load();
    const bool limit_reached = request_.max_tokens != 0 && sent == request_.max_tokens;
    if (sent == tokens_.size() || limit_reached) return finish(limit_reached ? "length" : "stop");
    if (!send(chunk(who_, {{"content", tokens_[sent]}}, nullptr))) return;
    ++sent_;
    schedule();
  }

  void finish(const char* reason) {
    send(chunk(who_, json::object(), reason));
    if (request_.include_usage) {
      json last = chunk(who_, json::object(), nullptr);
      last["choices"] = json::array();
      last["usage"] = usage_of(request_, sent_.load());
      send(last);
    }
    // Not JSON: the sentinel OpenAI's clients stop at.
    feed_.send(ssepp::event_view{"[DONE]"});
    // The response ends once the queue is written: a client reading to
    // the end of the body (curl, fetch) ends too.
    feed_.end();
  }

  bool send(const json& j) { return feed_.send(ssepp::event_view{dump(j)}); }

  asio::steady_timer timer_;
  ssepp::asio::event_feed feed_;
  completion_request request_;
  completion_identity who_;
  const std::vector<std::string>& tokens_;
  std::chrono::nanoseconds interval_;
  std::chrono::steady_clock::time_point next_at_;
  std::atomic<std::size_t> sent_{0};  // read by the close handler, on a server thread
  bool abandoned_ = false;            // on the io_context
};

// The answer without streaming: the whole text at once.
ssepp::asio::response whole_answer(const completion_request& request, const std::string& text,
                                   const std::vector<std::string>& tokens) {
  const auto who = identify(request);
  const std::size_t n =
      request.max_tokens ? std::min(request.max_tokens, tokens.size()) : tokens.size();
  std::string content;
  for (std::size_t i = 0; i < n; ++i) content += tokens[i];
  if (n == tokens.size()) content = text;
  json answer = {
      {"id", who.id},
      {"object", "chat.completion"},
      {"created", who.created},
      {"model", who.model},
      {"choices", json::array({{{"index", 0},
                                {"message", {{"role", "assistant"}, {"content", content}}},
                                {"finish_reason", n == tokens.size() ? "stop" : "length"}}})},
      {"usage", usage_of(request, n)}};
  ssepp::asio::response r;
  r.content_type = "application/json";
  r.body = dump(answer) + "\n";
  return r;
}

int run(command_line& cl) {
  const bool verbose = cl.verbose;
  auto& o = cl.server;
  o.log = example::stderr_log("llm_server", verbose);
  const std::vector<std::string> tokens = tokens_of(cl.text);
  const std::chrono::nanoseconds interval =
      cl.tokens_per_second > 0
          ? std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / cl.tokens_per_second))
          : std::chrono::nanoseconds(0);

  asio::io_context io;  // the generators' timers, and the signals
  auto work = asio::make_work_guard(io);
  ssepp::asio::server srv(o);
  srv.route("GET", "/metrics",
            [&srv](const ssepp::asio::request&) { return ssepp::asio::metrics_response(srv); });
  srv.stream_route(
      "POST", "/v1/chat/completions",
      [&](const ssepp::asio::request& req, ssepp::asio::server::stream_answer answer) {
        auto checked = read_request(req, cl);
        if (auto* refused = std::get_if<ssepp::asio::response>(&checked))
          return answer.reply(std::move(*refused));
        auto& request = std::get<completion_request>(checked);
        if (!request.stream) return answer.reply(whole_answer(request, cl.text, tokens));
        // The close handler may run before the generator exists (a client
        // gone at once): the slot tells either side about the other.
        struct generator_slot {
          std::mutex mutex;
          std::shared_ptr<token_stream> generator;
          bool client_left = false;
        };
        auto slot = std::make_shared<generator_slot>();
        auto feed = answer.start({}, [slot, verbose](ssepp::close_reason why, std::error_code) {
          if (why == ssepp::close_reason::hub_closed) return;  // answered in full, or stopping
          std::shared_ptr<token_stream> g;
          {
            std::lock_guard<std::mutex> lock(slot->mutex);
            slot->client_left = true;
            g = slot->generator;
          }
          if (!g) return;
          if (verbose)
            std::fprintf(stderr, "llm_server: client left after %zu tokens; generation stopped\n",
                         g->sent());
          g->abandon();
        });
        auto g = std::make_shared<token_stream>(io, feed, std::move(request), tokens, interval);
        {
          std::lock_guard<std::mutex> lock(slot->mutex);
          if (slot->client_left) return;
          slot->generator = g;
        }
        asio::post(io, [g] { g->start(); });
      });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    srv.stop();
    work.reset();
    io.stop();
  });
  if (!example::start_listening("llm_server", srv)) return 1;
  io.run();
  srv.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("llm_server", usage_text, argc, argv, parse_command_line, run);
}
