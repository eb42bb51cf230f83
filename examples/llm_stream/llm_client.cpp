// llm_client: asks an OpenAI-style chat-completions endpoint (llm_server,
// or any server speaking that API) for a streamed answer and prints its
// tokens as they arrive, on ssepp's EventSource client:
//
//   llm_client --api-key sk-test "What are Server-Sent Events?"
//
// What differs from a browser's EventSource, and how the client is told:
//   - the request is a POST with a JSON body and an Authorization header
//     (client_options::method, body, headers);
//   - the answer ends: after "data: [DONE]" the client closes, and it never
//     reconnects (client_options::reconnect = false), since asking again
//     would start a new answer, and pay for it;
//   - an error before the stream (401 for a wrong key) is final: the status
//     is printed and the exit status is 1.
#include <asio.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <ssepp/asio/client.hpp>
#include <ssepp/error.hpp>

#include "../common/command_line.hpp"

namespace {

using json = nlohmann::json;

constexpr const char* usage_text =
    R"(Usage: llm_client [OPTION]... [PROMPT]
Ask a chat-completions endpoint for a streamed answer to PROMPT and print its
tokens as they arrive.

Options:
  --url URL        the endpoint (default
                   http://127.0.0.1:8083/v1/chat/completions)
  --api-key KEY    sent as "Authorization: Bearer KEY" (default: none)
  --model NAME     the model asked for (default ssepp-demo)
  -h, --help       print this help and exit
Exit status: 0 once the answer ended with [DONE]; 1 when the server refused
(the status is printed) or the stream broke off before [DONE]; 2 for a bad
command line.
)";

struct command_line {
  std::string url = "http://127.0.0.1:8083/v1/chat/completions";
  std::string api_key;
  std::string model = "ssepp-demo";
  std::string prompt = "Tell me about Server-Sent Events.";
  bool help = false;
};

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  example::arguments args(argc, argv);
  bool prompt_given = false;
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.is("--url")) {
      cl.url = args.value();
    } else if (args.is("--api-key")) {
      cl.api_key = args.value();
    } else if (args.is("--model")) {
      cl.model = args.value();
    } else if (args.positional() && !prompt_given) {
      cl.prompt = std::string(args.current());
      prompt_given = true;
    } else {
      args.unknown();
    }
  }
  return cl;
}

int run(const command_line& cl) {
  ssepp::asio::client_options o;
  o.method = "POST";
  o.headers = {{"Content-Type", "application/json"}};
  if (!cl.api_key.empty()) o.headers.emplace_back("Authorization", "Bearer " + cl.api_key);
  o.body = json{{"model", cl.model},
                {"stream", true},
                {"messages", json::array({{{"role", "user"}, {"content", cl.prompt}}})}}
               .dump();
  o.reconnect = false;

  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto source = ssepp::asio::event_source::create(io.get_executor(), cl.url, o);
  bool done = false;
  int status = 1;

  source->on("message", [&](const ssepp::message& m) {
    if (m.data == "[DONE]") {
      done = true;
      status = 0;
      return source->close();
    }
    // Each chunk's delta holds the next piece of the answer; the first
    // names the role only, the last the finish_reason only.
    const json chunk = json::parse(m.data, nullptr, false);
    if (chunk.is_discarded() || !chunk.contains("choices")) return;
    for (const auto& choice : chunk["choices"]) {
      const auto delta = choice.find("delta");
      if (delta == choice.end() || !delta->contains("content")) continue;
      const auto& content = (*delta)["content"];
      if (!content.is_string()) continue;
      const auto& text = content.get_ref<const std::string&>();
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);  // each token the moment it arrives
    }
  });
  source->on_error([&](const ssepp::asio::client_error& e) {
    if (done) return;
    if (e.status != 0) {
      std::fprintf(stderr, "llm_client: refused (HTTP %d): %s\n", e.status, e.message.c_str());
    } else if (e.code == ssepp::errc::stream_ended) {
      std::fprintf(stderr, "\nllm_client: the answer ended before [DONE]\n");
    } else {
      std::fprintf(stderr, "llm_client: %s\n", e.message.c_str());
    }
  });
  source->on_close([&] {
    std::error_code ignored;
    signals.cancel(ignored);  // the last outstanding work: run() returns
  });
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) source->close();
  });
  source->start();
  io.run();
  if (done) std::fputc('\n', stdout);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("llm_client", usage_text, argc, argv, parse_command_line, run);
}
