// sse-cat: prints the events of a text/event-stream as JSON lines, one per
// event a browser's EventSource would dispatch. The command line: wiring of
// the input (file_input and chunked_feed for files, url_input for URLs) to
// the output (json_printer), plus the messages (all through
// terminal_escape's print_message) and exit codes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ssepp/asio/client.hpp>
#include <ssepp/error.hpp>
#include <ssepp/http/decimal.hpp>
#include <ssepp/http/url.hpp>
#include <ssepp/parser.hpp>

#include "chunked_feed.hpp"
#include "file_input.hpp"
#include "json_printer.hpp"
#include "terminal_escape.hpp"
#include "url_input.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  // input, output, connection or limit error
constexpr int exit_usage = 2;

// Bytes asked of read(2) at a time; --chunk may then split them further.
constexpr std::size_t read_size = std::size_t{64} << 10;

constexpr const char* usage_text =
    R"(Usage: sse-cat [OPTION]... [FILE]
  or:  sse-cat [OPTION]... URL
Print the events of a text/event-stream as JSON, one line per event.

Reads FILE, or standard input when FILE is absent or "-", parses it as the
WHATWG HTML standard says a browser's EventSource must, and prints every
dispatched event as
  {"type":"message","data":"hello","lastEventId":"42"}
always with these keys in this order and no spaces: the fields of the
MessageEvent (each line equals JSON.stringify({type, data, lastEventId})).
Strings escape " \ and the control characters U+0000..U+001F (as \b \f \n
\r \t, else \u00xx); all else, DEL, U+2028 and U+2029 included, is written
as UTF-8. The output is always valid UTF-8. Each line is flushed at once.
An event still open at the end of input (no blank line after it) is
discarded, as the standard says.

Given a URL (http://, or https:// when built with OpenSSL), sse-cat is an
EventSource: it requests the URL with "Accept: text/event-stream" and prints
the events as they arrive. Like a browser it reconnects when the connection
fails or the stream ends, after the server's retry time (3000 ms until the
server sends one; longer, with jitter, while attempts keep failing), and
sends the last event ID it received as Last-Event-ID. It stops for good on
an answer other than 200 with Content-Type text/event-stream (a 204 ends it
quietly), when a limit is exceeded, and on SIGINT (Ctrl-C) or SIGTERM.
Connection states and errors go to standard error, one line each:
  sse-cat: connected to http://localhost:8080/events
  sse-cat: reconnecting in 3000 ms: the server closed the event stream: ...
Messages on standard error show what a terminal could take as a command as
\xHH, one escape per byte: control characters (tab and newline too), DEL,
C1 controls (U+0080..U+009F) and malformed UTF-8; a backslash shows as \\.
They may quote the server (a Content-Type, a redirect's URL) or the command
line; the JSON lines on standard output are as described above.

Options:
  --chunk N           FILE only: feed the parser exactly N bytes at a time
                      (the last piece may be shorter), waiting for N bytes
                      to arrive; the output is the same for every N.
                      Default: feed the bytes of each read as they arrive
                      (up to 65536).
  --max-line-size N   stop at a line longer than N bytes
                      (default 16777216 = 16 MiB)
  --max-event-size N  stop at an event whose data exceeds N bytes
                      (default 16777216 = 16 MiB)
  --comments          also print each comment line as {"comment":"..."}
  --retry             also print each valid retry field as {"retry":N}
                      (milliseconds; an empty "retry:" prints 3000, the
                      default Chromium goes back to). With a URL the retry
                      fields set the reconnection time whether printed or not.
  --raw               parse in raw text mode: the parser leaves malformed
                      UTF-8 untouched, and sse-cat replaces it in the output
                      only. By default the parser replaces it, as browsers
                      do. Either way each malformed sequence is printed as
                      one U+FFFD, so the lines are the same; only
                      --max-event-size counts bytes before replacement
                      here and after it by default.
  -h, --help          print this help and exit

URL options:
  --header 'NAME: VALUE'
                      send this request header; repeatable. sse-cat sends
                      Host, Accept, Cache-Control, Content-Length and
                      Last-Event-ID itself: Host, Content-Length,
                      Transfer-Encoding and Last-Event-ID are refused here
  --data BODY         send BODY, byte for byte, as the request body; makes
                      the request a POST unless --method is given. No
                      Content-Type is added: give one with --header
  --method METHOD     the request method (default GET, or POST with --data)
  --last-event-id ID  send "Last-Event-ID: ID" with the first request (the
                      reconnections send the last ID received, as usual)
  --no-reconnect      make one request: exit when the stream ends or fails
  --cacert FILE       trust the CA certificates in FILE (PEM) too, for
                      https:// (e.g. a self-signed test certificate)

Numbers are bytes, in decimal digits. Options may also be written as
--chunk=N or --header='NAME: VALUE'. "--" ends the options. An argument
starting with http:// or https:// is a URL; write ./http:... for a file so
named.

Exit status:
  0  FILE: end of input reached. URL: the stream ended (--no-reconnect), the
     server answered 204 No Content, or SIGINT or SIGTERM arrived
  1  FILE cannot be opened or read, output cannot be written, or a limit
     was exceeded (the events before it are printed; the message names the
     limit and where in the input it was exceeded). URL: the server's answer
     was refused (status, Content-Type, too many redirects, TLS
     certificate), a limit was exceeded, --cacert FILE cannot be read, or,
     with --no-reconnect, the connection failed
  2  bad command line
)";

struct command_line {
  std::string path = "-";  // the FILE or the URL
  bool is_url = false;
  std::size_t chunk = 0;  // 0: as read
  bool print_comments = false;
  bool print_retry = false;
  bool help = false;
  ssepp::parser_options parser;
  // URL mode only.
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> data;
  std::optional<std::string> method;
  std::string last_event_id;
  bool reconnect = true;
  std::string ca_file;
  std::string url_option;  // the first URL option given, to refuse it for a FILE
};

void usage_error(const std::string& what) {
  sse_cat::print_message(what);
  std::fputs("Try 'sse-cat --help' for more information.\n", stderr);
}

// A byte count: decimal digits only, no sign, within std::size_t.
bool parse_size(std::string_view option, std::string_view text, std::size_t min, std::size_t& out) {
  const auto value = ssepp::http::parse_decimal<std::size_t>(text);
  if (!value || *value < min) {
    usage_error(std::string(option) + " needs a number of bytes from " + std::to_string(min) +
                " to " + std::to_string(std::numeric_limits<std::size_t>::max()) + ", got '" +
                std::string(text) + "'");
    return false;
  }
  out = *value;
  return true;
}

bool is_token_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// CR or LF would end the header line early and let the rest forge other
// headers (or the body); NUL is refused by HTTP servers.
bool has_line_break_or_nul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// "NAME: VALUE", as curl's --header takes it.
bool parse_header(std::string_view text, command_line& cl) {
  const std::size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  if (colon == text.npos || !is_token(name)) {
    usage_error(
        "--header needs 'NAME: VALUE' with a NAME of letters, digits and !#$%&'*+-.^_`|~, "
        "got '" +
        std::string(text) + "'");
    return false;
  }
  std::string_view value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (has_line_break_or_nul(value)) {
    usage_error("--header '" + std::string(name) + "': the value must not contain CR, LF or NUL");
    return false;
  }
  for (const std::string_view own :
       {"Host", "Content-Length", "Transfer-Encoding", "Last-Event-ID"}) {
    if (equals_ignoring_case(name, own)) {
      usage_error("--header '" + std::string(name) + "': sse-cat sends " + std::string(own) +
                  " itself" + (own == "Last-Event-ID" ? " (use --last-event-id)" : ""));
      return false;
    }
  }
  cl.headers.emplace_back(std::string(name), std::string(value));
  return true;
}

// An argument starting with http:// or https:// (the scheme in any case).
bool looks_like_url(std::string_view arg) {
  for (const std::string_view scheme : {"http://", "https://"})
    if (arg.size() >= scheme.size() && equals_ignoring_case(arg.substr(0, scheme.size()), scheme))
      return true;
  return false;
}

// The options whose value is text, URL mode only. False when `name` is not one.
bool is_url_option(std::string_view name) {
  return name == "--header" || name == "--data" || name == "--method" ||
         name == "--last-event-id" || name == "--cacert";
}

bool set_url_option(std::string_view name, std::string_view value, command_line& cl) {
  if (cl.url_option.empty()) cl.url_option = std::string(name);
  if (name == "--header") return parse_header(value, cl);
  if (name == "--data") {
    cl.data = std::string(value);
  } else if (name == "--method") {
    if (!is_token(value)) {
      usage_error("--method needs a method name (letters, digits and !#$%&'*+-.^_`|~), got '" +
                  std::string(value) + "'");
      return false;
    }
    cl.method = std::string(value);
  } else if (name == "--last-event-id") {
    if (has_line_break_or_nul(value)) {
      usage_error("--last-event-id: the ID must not contain CR, LF or NUL");
      return false;
    }
    cl.last_event_id = std::string(value);
  } else if (name == "--cacert") {
    cl.ca_file = std::string(value);
  }
  return true;
}

// Options that fit only one of the two modes.
bool check_mode(const command_line& cl) {
  if (cl.is_url) {
    if (cl.chunk != 0) {
      usage_error("--chunk applies to FILE input only (a URL's bytes are parsed as they arrive)");
      return false;
    }
    if (!ssepp::http::parse_url(cl.path)) {
      usage_error("'" + cl.path + "' is not a URL sse-cat can request (http://HOST[:PORT][/PATH])");
      return false;
    }
  } else if (!cl.url_option.empty()) {
    usage_error(cl.url_option + " needs a URL (http:// or https://), not a FILE");
    return false;
  }
  return true;
}

// Fills `cl`; on a bad command line prints why and returns false.
bool parse_command_line(int argc, char** argv, command_line& cl) {
  bool have_path = false;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (options_done || arg == "-" || arg.substr(0, 1) != "-") {
      if (have_path) {
        usage_error("one input at most, got '" + cl.path + "' and '" + std::string(arg) + "'");
        return false;
      }
      cl.path = std::string(arg);
      cl.is_url = !options_done && looks_like_url(arg);
      have_path = true;
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      cl.help = true;
      continue;
    }
    if (arg == "--comments") {
      cl.print_comments = true;
      continue;
    }
    if (arg == "--retry") {
      cl.print_retry = true;
      continue;
    }
    if (arg == "--raw") {
      cl.parser.text = ssepp::text_mode::raw;
      continue;
    }
    if (arg == "--no-reconnect") {
      cl.reconnect = false;
      if (cl.url_option.empty()) cl.url_option = std::string(arg);
      continue;
    }
    // The options with a value: "--name N" or "--name=N".
    const std::size_t equals = arg.find('=');
    const std::string_view name = arg.substr(0, equals);
    // The value after '=' or in the next argument; nullopt (after saying
    // so) when there is none.
    auto take_value = [&]() -> std::optional<std::string_view> {
      if (equals != arg.npos) return arg.substr(equals + 1);
      if (i + 1 < argc) return std::string_view(argv[++i]);
      usage_error("option '" + std::string(name) + "' needs a value");
      return std::nullopt;
    };
    if (is_url_option(name)) {
      const auto value = take_value();
      if (!value || !set_url_option(name, *value, cl)) return false;
      continue;
    }
    std::size_t* target = nullptr;
    std::size_t min = 0;
    if (name == "--chunk") {
      target = &cl.chunk;
      min = 1;
    } else if (name == "--max-line-size") {
      target = &cl.parser.max_line_size;
    } else if (name == "--max-event-size") {
      target = &cl.parser.max_event_size;
    }
    if (!target) {
      usage_error("unknown option '" + std::string(arg) + "'");
      return false;
    }
    const auto value = take_value();
    if (!value || !parse_size(name, *value, min, *target)) return false;
  }
  return cl.help || check_mode(cl);
}

std::string describe_parser_error(std::error_code ec, const command_line& cl) {
  if (ec == ssepp::errc::line_too_long)
    return "line longer than --max-line-size (" + std::to_string(cl.parser.max_line_size) +
           " bytes)";
  if (ec == ssepp::errc::event_too_large)
    return "event data larger than --max-event-size (" + std::to_string(cl.parser.max_event_size) +
           " bytes)";
  return ec.message();
}

// Where in the input the parser stopped: exact with --chunk 1, else the
// piece it was given (the parser reports no finer position).
std::string describe_position(std::uint64_t begin, std::uint64_t end, const std::string& name) {
  if (end - begin == 1) return "at byte offset " + std::to_string(begin) + " of " + name;
  return "in bytes " + std::to_string(begin) + " to " + std::to_string(end - 1) + " of " + name +
         " (--chunk 1 gives the exact offset)";
}

int run_url(const command_line& cl) {
  ssepp::asio::client_options options;
  options.headers = cl.headers;
  if (cl.data) options.body = *cl.data;
  options.method = cl.method ? *cl.method : cl.data ? "POST" : "GET";
  options.last_event_id = cl.last_event_id;
  options.reconnect = cl.reconnect;
  options.parser = cl.parser;
  if (!cl.ca_file.empty()) {
    // The client would go on without a CA file it cannot load, and fail
    // later with a certificate error that hides the cause.
    sse_cat::file_input ca;
    if (const std::error_code ec = ca.open(cl.ca_file)) {
      sse_cat::print_message("cannot read --cacert '" + cl.ca_file + "': " + ec.message());
      return exit_failure;
    }
    options.ca_file = cl.ca_file;
  }

  sse_cat::json_printer printer(stdout, cl.print_comments, cl.print_retry);
  sse_cat::url_input input(cl.path, std::move(options), printer, cl.print_comments, cl.print_retry);
  switch (input.run()) {
    case sse_cat::url_outcome::ended:
    case sse_cat::url_outcome::interrupted:
      return exit_ok;
    case sse_cat::url_outcome::failed:
      return exit_failure;
    case sse_cat::url_outcome::output_failed:
      sse_cat::print_message(std::string("cannot write to standard output: ") +
                             std::strerror(printer.write_error()));
      return exit_failure;
  }
  return exit_failure;
}

int run_file(const command_line& cl) {
  sse_cat::file_input input;
  const std::string name = cl.path == "-" ? std::string("standard input") : "'" + cl.path + "'";
  if (cl.path != "-") {
    if (const std::error_code ec = input.open(cl.path)) {
      sse_cat::print_message("cannot open " + name + ": " + ec.message());
      return exit_failure;
    }
  }

  sse_cat::json_printer printer(stdout, cl.print_comments, cl.print_retry);
  sse_cat::chunked_feed<sse_cat::json_printer> feed(printer, cl.parser, cl.chunk);

  std::vector<char> buffer(read_size);
  std::error_code read_error;
  bool parsed = true;
  while (parsed && !printer.write_error()) {
    const std::size_t n = input.read(buffer.data(), buffer.size(), read_error);
    if (n == 0) {
      if (!read_error) parsed = feed.finish();
      break;
    }
    parsed = feed.push(std::string_view(buffer.data(), n));
  }

  if (printer.write_error()) {
    sse_cat::print_message(std::string("cannot write to standard output: ") +
                           std::strerror(printer.write_error()));
    return exit_failure;
  }
  if (!parsed) {
    sse_cat::print_message(describe_parser_error(feed.error(), cl) + " " +
                           describe_position(feed.failed_begin(), feed.failed_end(), name));
    return exit_failure;
  }
  if (read_error) {
    sse_cat::print_message("cannot read " + name + ": " + read_error.message());
    return exit_failure;
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  command_line cl;
  if (!parse_command_line(argc, argv, cl)) return exit_usage;
  if (cl.help) {
    std::fputs(usage_text, stdout);
    return std::fflush(stdout) == 0 ? exit_ok : exit_failure;
  }
  return cl.is_url ? run_url(cl) : run_file(cl);
}
