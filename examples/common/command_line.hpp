// What the server examples share and a reader need not study: reading
// "--name VALUE" / "--name=VALUE" options, the shape of their main(), and
// writing the URL they print.
// Each example's main.cpp holds everything about ssepp itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <ssepp/http/decimal.hpp>

namespace example {

/// A bad command line; main prints it with a hint to --help, exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Walks argv one option at a time:
///
///   example::arguments args(argc, argv);
///   while (args.next()) {
///     if (args.is("--port")) port = args.number<std::uint16_t>();
///     else if (args.flag("--verbose")) verbose = true;
///     else args.unknown();
///   }
class arguments {
 public:
  arguments(int argc, char** argv) : argc_(argc), argv_(argv) {}

  /// Moves to the next argument; false when none is left.
  bool next() {
    if (++index_ >= argc_) return false;
    const std::string_view arg = argv_[index_];
    const std::size_t equals = arg.find('=');
    name_ = arg.substr(0, equals);
    attached_ = equals == std::string_view::npos ? std::string_view{} : arg.substr(equals + 1);
    has_attached_ = equals != std::string_view::npos;
    return true;
  }

  /// True when the current argument is the option `name` (with a value).
  bool is(std::string_view name) const { return name_ == name; }

  /// True when the current argument is the flag `name`, which takes no value.
  bool flag(std::string_view name) const {
    if (name_ != name) return false;
    if (has_attached_) throw usage_error("option '" + std::string(name) + "' takes no value");
    return true;
  }

  /// The current option's value: after '=' or the next argument.
  std::string value() {
    if (has_attached_) return std::string(attached_);
    if (index_ + 1 >= argc_) throw usage_error("option '" + std::string(name_) + "' needs a value");
    return argv_[++index_];
  }

  /// The current option's value as a decimal number in [min, max].
  template <class Unsigned>
  Unsigned number(Unsigned min = 0, Unsigned max = std::numeric_limits<Unsigned>::max()) {
    const std::string text = value();
    // Digits only (no sign, no space), then the range.
    const auto parsed = ssepp::http::parse_decimal<std::uint64_t>(text);
    const std::uint64_t n = parsed.value_or(0);
    if (!parsed || n < min || n > max) {
      throw usage_error("option '" + std::string(name_) + "' needs a number from " +
                        std::to_string(min) + " to " + std::to_string(max) + ", got '" + text +
                        "'");
    }
    return static_cast<Unsigned>(n);
  }

  /// The current argument as given (a positional one: check it first with
  /// positional()).
  std::string_view current() const { return argv_[index_]; }
  /// True when the current argument is not an option (no leading '-').
  bool positional() const { return current().substr(0, 1) != "-"; }

  /// Refuses the current argument.
  [[noreturn]] void unknown() const {
    throw usage_error("unknown option '" + std::string(argv_[index_]) + "'");
  }

 private:
  int argc_;
  char** argv_;
  int index_ = 0;
  std::string_view name_;
  std::string_view attached_;
  bool has_attached_ = false;
};

/// An example's main(): parses the command line with `parse` (a usage
/// error is printed with a hint to --help, exit status 2), prints `usage`
/// for --help, and otherwise returns `run`'s exit status. `parse` returns a
/// struct with a `help` flag.
template <class Parse, class Run>
int main(const char* name, const char* usage, int argc, char** argv, Parse parse, Run run) {
  decltype(parse(argc, argv)) cl;
  try {
    cl = parse(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", name, e.what(), name);
    return 2;
  }
  if (cl.help) {
    std::fputs(usage, stdout);
    return 0;
  }
  return run(cl);
}

/// "http://host:port" for a listening address, as a browser takes it: an
/// unspecified address (0.0.0.0, ::) becomes loopback, which is where a
/// local browser reaches it, and IPv6 addresses get brackets.
inline std::string http_origin(std::string host, std::uint16_t port) {
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

}  // namespace example
