// sse-cat: prints the events of a text/event-stream as JSON lines, one per
// event a browser's EventSource would dispatch. The command line: wiring of
// the input (file_input), the parser (chunked_feed) and the output
// (json_printer), plus the messages and exit codes.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <ssepp/error.hpp>
#include <ssepp/parser.hpp>

#include "chunked_feed.hpp"
#include "file_input.hpp"
#include "json_printer.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;  // input, output or limit error
constexpr int exit_usage = 2;

// Bytes asked of read(2) at a time; --chunk may then split them further.
constexpr std::size_t read_size = std::size_t{64} << 10;

constexpr const char* usage_text =
    R"(Usage: sse-cat [OPTION]... [FILE]
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

Options:
  --chunk N           feed the parser exactly N bytes at a time (the last
                      piece may be shorter), waiting for N bytes to arrive;
                      the output is the same for every N. Default: feed the
                      bytes of each read as they arrive (up to 65536).
  --max-line-size N   stop at a line longer than N bytes
                      (default 16777216 = 16 MiB)
  --max-event-size N  stop at an event whose data exceeds N bytes
                      (default 16777216 = 16 MiB)
  --comments          also print each comment line as {"comment":"..."}
  --retry             also print each valid retry field as {"retry":N}
                      (milliseconds; an empty "retry:" prints 3000, the
                      default Chromium goes back to)
  --raw               parse in raw text mode: the parser leaves malformed
                      UTF-8 untouched, and sse-cat replaces it in the output
                      only. By default the parser replaces it, as browsers
                      do. Either way each malformed sequence is printed as
                      one U+FFFD, so the lines are the same; only
                      --max-event-size counts bytes before replacement
                      here and after it by default.
  -h, --help          print this help and exit
Numbers are bytes, in decimal digits. Options may also be written as
--chunk=N. "--" ends the options.

Exit status:
  0  end of input reached
  1  FILE cannot be opened or read, output cannot be written, or a limit
     was exceeded (the events before it are printed; the message names the
     limit and where in the input it was exceeded)
  2  bad command line
)";

struct command_line {
  std::string path = "-";
  std::size_t chunk = 0;  // 0: as read
  bool print_comments = false;
  bool print_retry = false;
  bool help = false;
  ssepp::parser_options parser;
};

void usage_error(const std::string& what) {
  std::fprintf(stderr, "sse-cat: %s\nTry 'sse-cat --help' for more information.\n", what.c_str());
}

// A byte count: decimal digits only, no sign, within std::size_t.
bool parse_size(std::string_view option, std::string_view text, std::size_t min, std::size_t& out) {
  std::size_t value = 0;
  const char* const end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  const bool digits_only = !text.empty() && text.find_first_not_of("0123456789") == text.npos;
  if (!digits_only || result.ec != std::errc{} || result.ptr != end || value < min) {
    usage_error(std::string(option) + " needs a number of bytes from " + std::to_string(min) +
                " to " + std::to_string(std::numeric_limits<std::size_t>::max()) + ", got '" +
                std::string(text) + "'");
    return false;
  }
  out = value;
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
    // The options with a value: "--name N" or "--name=N".
    const std::size_t equals = arg.find('=');
    const std::string_view name = arg.substr(0, equals);
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
    std::string_view value;
    if (equals != arg.npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error("option '" + std::string(name) + "' needs a value");
      return false;
    }
    if (!parse_size(name, value, min, *target)) return false;
  }
  return true;
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

int run(const command_line& cl) {
  sse_cat::file_input input;
  const std::string name = cl.path == "-" ? std::string("standard input") : "'" + cl.path + "'";
  if (cl.path != "-") {
    if (const std::error_code ec = input.open(cl.path)) {
      std::fprintf(stderr, "sse-cat: cannot open %s: %s\n", name.c_str(), ec.message().c_str());
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
    std::fprintf(stderr, "sse-cat: cannot write to standard output: %s\n",
                 std::strerror(printer.write_error()));
    return exit_failure;
  }
  if (!parsed) {
    std::fprintf(stderr, "sse-cat: %s %s\n", describe_parser_error(feed.error(), cl).c_str(),
                 describe_position(feed.failed_begin(), feed.failed_end(), name).c_str());
    return exit_failure;
  }
  if (read_error) {
    std::fprintf(stderr, "sse-cat: cannot read %s: %s\n", name.c_str(),
                 read_error.message().c_str());
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
  return run(cl);
}
