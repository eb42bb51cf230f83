// ssepp-bench-parser: parser and formatter throughput on three generated
// event streams, next to a minimal non-compliant splitter (the floor).
//
// It writes the inputs it measures to files (--inputs DIR) so that the Node
// peer (bench_eventsource_parser.mjs) is fed exactly the same bytes, and
// prints one machine-readable line per measurement:
//
//   result <input> <implementation> <feed mode> <MB/s>
//
// run.sh joins these with the Node peer's lines into one table. Every
// measurement also checks what was parsed against what was generated: a
// benchmark that silently parses nothing would report nonsense, so a
// mismatch exits non-zero. Times are reported, never checked.
#include <ssepp/format.hpp>
#include <ssepp/parser.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// Deterministic inputs. The bytes depend only on the seed and the size, so
// every run and every peer sees the same stream.

class random_bits {
 public:
  explicit random_bits(std::uint64_t seed) : state_(seed) {}
  // splitmix64: small, fast and the same on every platform.
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::uint64_t state_;
};

struct expected_event {
  std::string type;
  std::string data;
  std::string last_event_id;
};

struct input {
  std::string name;         // "a", "b", "c"
  std::string description;  // for the table
  std::string bytes;
  std::vector<expected_event> events;
  std::size_t data_bytes = 0;  // sum of the events' data sizes
  std::size_t line_feeds = 0;  // '\n' bytes: what the floor splitter sees
};

void finish(input& in) {
  for (const expected_event& e : in.events) in.data_bytes += e.data.size();
  in.line_feeds = static_cast<std::size_t>(std::count(in.bytes.begin(), in.bytes.end(), '\n'));
}

// (a) An LLM token stream as OpenAI-style APIs send it: one small JSON chunk
// per token, LF line ends. A few tokens are non-ASCII (accents, CJK, emoji)
// as real model output is, so the parser's UTF-8 path is exercised too.
input make_llm_tokens(std::size_t target) {
  static const char* const tokens[] = {
      " the",  " of",     " and",  " to",     " a",      " in",     " is",     " that",
      " for",  " it",     " as",   " with",   " model",  " token",  " stream", " server",
      ".",     ",",       "\\n",   "\\n\\n",  " data",   " event",  "ing",     "ed",
      " we",   " can",    " be",   " this",   " \\\"",   "\\\"",    " code",   " C",
      "++",    " header", " only", " parser", " memory", " bytes",  " fast",   " when",
      " café", " naïve",  " —",    " 東京",   " 🙂",   " résumé", " ü",      " 42",
  };
  constexpr std::size_t token_count = sizeof tokens / sizeof tokens[0];
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  random_bits rng(0xA11CE);
  input in{"a", "LLM token stream, ~150 B events, LF", {}, {}};
  std::string id;
  std::size_t left_in_completion = 0;
  while (in.bytes.size() < target) {
    if (left_in_completion == 0) {  // a new completion: new id, 50-400 tokens
      id.assign("chatcmpl-");
      for (int i = 0; i < 29; ++i) id.push_back(alnum[rng.below(sizeof alnum - 1)]);
      left_in_completion = 50 + rng.below(350);
    }
    --left_in_completion;
    std::string content;
    const std::size_t pieces = 1 + rng.below(3);
    for (std::size_t i = 0; i < pieces; ++i) {
      // Non-ASCII tokens are the last eight: keep them to about 2% of tokens.
      const std::size_t ascii = token_count - 8;
      content += tokens[rng.chance(2) ? ascii + rng.below(8) : rng.below(ascii)];
    }
    std::string data =
        R"({"id":")" + id +
        R"(","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":")" +
        content + R"("}}]})";
    in.bytes += "data: ";
    in.bytes += data;
    in.bytes += "\n\n";
    in.events.push_back({"message", std::move(data), ""});
  }
  finish(in);
  return in;
}

// (b) Large payloads: 64 KiB of base64 in one data line per event.
input make_large_lines(std::size_t target) {
  static const char base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  random_bits rng(0xB16);
  input in{"b", "64 KiB single-line data, LF", {}, {}};
  while (in.bytes.size() < target) {
    std::string data(std::size_t{64} << 10, '\0');
    for (char& c : data) c = base64[rng.next() & 63];
    in.bytes += "data: ";
    in.bytes += data;
    in.bytes += "\n\n";
    in.events.push_back({"message", std::move(data), ""});
  }
  finish(in);
  return in;
}

// (c) Everything a real stream mixes, with CRLF line ends: ids, event types,
// retry hints, comments (heartbeats), unknown fields, `data:` with and
// without the space, multi-line data, and blocks that dispatch nothing.
input make_mixed_crlf(std::size_t target) {
  static const char* const types[] = {"update", "delta", "status", "notification", "tick"};
  static const char printable[] =
      "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 {}[]\":,._-/";
  random_bits rng(0xC0FFEE);
  input in{"c", "mixed CRLF: id, event, retry, comments, multi-line", {}, {}};
  std::string last_event_id;
  unsigned long long next_id = 1000;
  auto line = [&](std::string_view text) {
    in.bytes += text;
    in.bytes += "\r\n";
  };
  while (in.bytes.size() < target) {
    if (rng.chance(15)) line(rng.chance(50) ? ": keep-alive" : ":");
    if (rng.chance(3)) line("retry: " + std::to_string(1000 + rng.below(9000)));
    if (rng.chance(5)) {  // a block with an id and no data: updates the id only
      last_event_id = std::to_string(next_id++);
      line("id: " + last_event_id);
      line("");
      continue;
    }
    std::string type = "message";
    if (rng.chance(60)) {
      type = types[rng.below(5)];
      line("event: " + type);
    }
    if (rng.chance(80)) {
      last_event_id = std::to_string(next_id++);
      line("id: " + last_event_id);
    }
    if (rng.chance(4)) line("x-trace: " + std::to_string(rng.next() % 100000));
    std::string data;
    const std::size_t lines = 1 + rng.below(5);
    for (std::size_t i = 0; i < lines; ++i) {
      std::string value;
      const std::size_t length = rng.below(80);
      for (std::size_t k = 0; k < length; ++k)
        value.push_back(printable[rng.below(sizeof printable - 1)]);
      if (i != 0) data.push_back('\n');
      if (rng.chance(10) && (value.empty() || value.front() != ' ')) {
        line("data:" + value);  // no space: the value is taken as it is
      } else {
        line("data: " + value);
      }
      data += value;
    }
    if (rng.chance(10)) line(": comment inside an event");
    line("");
    in.events.push_back({std::move(type), std::move(data), last_event_id});
  }
  finish(in);
  return in;
}

// ---------------------------------------------------------------------------
// Handlers and the floor

struct count_events {
  std::size_t events = 0;
  std::size_t data_bytes = 0;
  void on_event(const ssepp::message& m) {
    ++events;
    data_bytes += m.data.size();
  }
};

struct collect_events {
  std::vector<expected_event>* out;
  void on_event(const ssepp::message& m) {
    out->push_back({std::string(m.type), std::string(m.data), std::string(m.last_event_id)});
  }
};

// The floor: what a minimal, non-compliant splitter costs. It knows only LF,
// ends an event at "\n\n" found with memchr, strips a "data: " prefix and
// nothing else (no CR, no fields, no multi-line data, no UTF-8 check). On a
// CRLF stream it finds no event at all, but still walks every line.
struct floor_splitter {
  std::size_t events = 0;
  std::size_t data_bytes = 0;
  std::size_t line_feeds = 0;
  std::string pending;  // an event cut by the end of a chunk

  void emit(std::string_view event) {
    if (event.size() >= 6 && std::memcmp(event.data(), "data: ", 6) == 0) event.remove_prefix(6);
    ++events;
    data_bytes += event.size();
  }

  // Finds the next "\n\n" in [p, end), counting line feeds; nullptr if none.
  const char* find_blank_line(const char* p, const char* end) {
    while (const void* found = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
      const char* nl = static_cast<const char*>(found);
      ++line_feeds;
      if (nl + 1 != end && nl[1] == '\n') {
        ++line_feeds;
        return nl;
      }
      p = nl + 1;
    }
    return nullptr;
  }

  void feed(std::string_view chunk) {
    const char* p = chunk.data();
    const char* const end = p + chunk.size();
    if (!pending.empty()) {
      if (pending.back() == '\n' && p != end && *p == '\n') {  // "\n" | "\n"
        ++line_feeds;
        pending.pop_back();
        emit(pending);
        pending.clear();
        ++p;
      } else if (const char* nl = find_blank_line(p, end)) {
        pending.append(p, static_cast<std::size_t>(nl - p));
        emit(pending);
        pending.clear();
        p = nl + 2;
      } else {
        pending.append(p, static_cast<std::size_t>(end - p));
        return;
      }
    }
    const char* start = p;
    while (const char* nl = find_blank_line(p, end)) {
      emit({start, static_cast<std::size_t>(nl - start)});
      p = start = nl + 2;
    }
    if (start != end) pending.assign(start, static_cast<std::size_t>(end - start));
  }
};

// ---------------------------------------------------------------------------
// Timing

struct settings {
  double min_time = 0.3;  // seconds per run
  int runs = 5;           // best of
  std::size_t input_size = std::size_t{4} << 20;
  std::string inputs_dir;
  bool verbose = false;
};

bool all_good = true;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "ssepp-bench-parser: MISMATCH: " << what << '\n';
    all_good = false;
  }
}

// Seconds of CPU time this process has used. CPU time rather than wall time:
// on a small shared machine, time spent waiting for a core is not the
// parser's, and best-of-N alone does not remove it.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// Best throughput in MB/s (10^6 bytes per CPU second) over `runs` runs,
// each repeating `pass` until `min_time` has passed. `pass` returns false
// when what it parsed was wrong.
template <class Pass>
double measure(const settings& s, std::size_t bytes_per_pass, Pass&& pass) {
  double best = 0;
  for (int run = 0; run < s.runs; ++run) {
    std::size_t passes = 0;
    const double start = cpu_seconds();
    double elapsed = 0;
    do {
      if (!pass()) return 0;
      ++passes;
      elapsed = cpu_seconds() - start;
    } while (elapsed < s.min_time);
    best = std::max(
        best, static_cast<double>(bytes_per_pass) * static_cast<double>(passes) / elapsed / 1e6);
  }
  return best;
}

void report(const settings& s, const std::string& input, const char* impl, const char* mode,
            double mbps) {
  std::printf("result %s %s %s %.1f\n", input.c_str(), impl, mode, mbps);
  std::fflush(stdout);
  if (s.verbose)
    std::fprintf(stderr, "  %-3s %-10s %-6s %10.1f MB/s\n", input.c_str(), impl, mode, mbps);
}

constexpr std::size_t chunk_size = std::size_t{64} << 10;

// Feeds `bytes` whole (chunk == 0) or in chunks of that many bytes.
template <class Feed>
void feed_all(std::string_view bytes, std::size_t chunk, Feed&& feed) {
  if (chunk == 0) {
    feed(bytes);
    return;
  }
  for (std::size_t at = 0; at < bytes.size(); at += chunk) feed(bytes.substr(at, chunk));
}

template <ssepp::text_mode Mode>
void bench_ssepp(const settings& s, const input& in, const char* impl) {
  ssepp::parser_options options;
  options.text = Mode;
  // Once, untimed: everything the parser dispatches must be what was generated.
  for (const std::size_t chunk : {std::size_t{0}, chunk_size}) {
    std::vector<expected_event> got;
    ssepp::parser<collect_events> p{collect_events{&got}, options};
    feed_all(in.bytes, chunk,
             [&](std::string_view c) { check(!p.feed(c), "ssepp reported an error"); });
    bool same = got.size() == in.events.size();
    for (std::size_t i = 0; same && i < got.size(); ++i) {
      same = got[i].type == in.events[i].type && got[i].data == in.events[i].data &&
             got[i].last_event_id == in.events[i].last_event_id;
    }
    check(same, "ssepp events differ from the generated ones on (" + in.name + ")");
  }
  for (const std::size_t chunk : {std::size_t{0}, chunk_size}) {
    const double mbps = measure(s, in.bytes.size(), [&] {
      ssepp::parser<count_events> p{count_events{}, options};
      bool ok = true;
      feed_all(in.bytes, chunk, [&](std::string_view c) { ok &= !p.feed(c); });
      const count_events& h = p.handler();
      ok &= h.events == in.events.size() && h.data_bytes == in.data_bytes;
      check(ok, std::string(impl) + " counted wrong on (" + in.name + ")");
      return ok;
    });
    report(s, in.name, impl, chunk ? "64k" : "whole", mbps);
  }
}

void bench_floor(const settings& s, const input& in) {
  // The floor is non-compliant, so only what it can see is checked: every
  // line feed, and on LF-only streams every event and its data.
  const bool lf_only = in.bytes.find('\r') == std::string::npos;
  for (const std::size_t chunk : {std::size_t{0}, chunk_size}) {
    const double mbps = measure(s, in.bytes.size(), [&] {
      floor_splitter f;
      feed_all(in.bytes, chunk, [&](std::string_view c) { f.feed(c); });
      bool ok = f.line_feeds == in.line_feeds;
      if (lf_only) ok &= f.events == in.events.size() && f.data_bytes == in.data_bytes;
      check(ok, "floor splitter counted wrong on (" + in.name + ")");
      return ok;
    });
    report(s, in.name, "floor", chunk ? "64k" : "whole", mbps);
  }
}

// Formatter throughput on (a): the same events, formatted into one reused
// string per pass. The output must be byte for byte the input of (a).
void bench_format(const settings& s, const input& in) {
  std::vector<ssepp::event_view> events;
  for (const expected_event& e : in.events) events.push_back(ssepp::event_view{e.data, {}, {}, {}});
  std::string out;
  const double ssepp_mbps = measure(s, in.bytes.size(), [&] {
    out.clear();
    bool ok = true;
    for (const ssepp::event_view& e : events) ok &= !ssepp::format(out, e);
    ok &= out.size() == in.bytes.size();
    check(ok, "ssepp::format wrote the wrong bytes");
    return ok;
  });
  check(out == in.bytes, "ssepp::format output differs from input (a)");
  report(s, "fmt", "ssepp", "whole", ssepp_mbps);

  // The floor: copy the prefix, the data and the blank line; no checks.
  const double floor_mbps = measure(s, in.bytes.size(), [&] {
    out.clear();
    for (const ssepp::event_view& e : events) {
      out.append("data: ", 6);
      out.append(e.data.data(), e.data.size());
      out.append("\n\n", 2);
    }
    const bool ok = out.size() == in.bytes.size();
    check(ok, "floor formatter wrote the wrong bytes");
    return ok;
  });
  check(out == in.bytes, "floor formatter output differs from input (a)");
  report(s, "fmt", "floor", "whole", floor_mbps);
}

// Writes the inputs and a manifest the Node peer reads.
void write_inputs(const std::string& dir, const std::vector<const input*>& inputs) {
  std::ofstream manifest(dir + "/manifest.json");
  manifest << "{\"chunk_size\": " << chunk_size << ", \"inputs\": [\n";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const input& in = *inputs[i];
    const std::string file = in.name + ".sse";
    std::ofstream out(dir + "/" + file, std::ios::binary);
    out.write(in.bytes.data(), static_cast<std::streamsize>(in.bytes.size()));
    check(static_cast<bool>(out), "could not write " + dir + "/" + file);
    manifest << "  {\"name\": \"" << in.name << "\", \"file\": \"" << file
             << "\", \"bytes\": " << in.bytes.size() << ", \"events\": " << in.events.size()
             << ", \"data_bytes\": " << in.data_bytes << "}"
             << (i + 1 == inputs.size() ? "\n" : ",\n");
  }
  manifest << "]}\n";
  check(static_cast<bool>(manifest), "could not write " + dir + "/manifest.json");
}

int usage() {
  std::cerr << "usage: ssepp-bench-parser [--inputs DIR] [--runs N] [--min-time SECONDS]\n"
               "                          [--size MIB] [--verbose]\n"
               "  --inputs DIR   also write the generated inputs and manifest.json to DIR\n"
               "  --runs N       best of N runs per measurement (5)\n"
               "  --min-time S   each run repeats passes for at least S seconds (0.3)\n"
               "  --size MIB     size of each generated input (4)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--inputs" && has_value) {
      s.inputs_dir = argv[++i];
    } else if (arg == "--runs" && has_value) {
      s.runs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--min-time" && has_value) {
      s.min_time = std::atof(argv[++i]);
    } else if (arg == "--size" && has_value) {
      s.input_size = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i]))) << 20;
    } else if (arg == "--verbose") {
      s.verbose = true;
    } else {
      return usage();
    }
  }

  const input a = make_llm_tokens(s.input_size);
  const input b = make_large_lines(s.input_size);
  const input c = make_mixed_crlf(s.input_size);
  const std::vector<const input*> inputs{&a, &b, &c};
  if (!s.inputs_dir.empty()) write_inputs(s.inputs_dir, inputs);

  for (const input* in : inputs) {
    std::printf("input %s %zu %zu %s\n", in->name.c_str(), in->bytes.size(), in->events.size(),
                in->description.c_str());
  }
  for (const input* in : inputs) {
    bench_ssepp<ssepp::text_mode::replace_invalid>(s, *in, "ssepp");
    bench_ssepp<ssepp::text_mode::raw>(s, *in, "ssepp-raw");
    bench_floor(s, *in);
  }
  bench_format(s, a);

  if (!all_good) {
    std::cerr << "ssepp-bench-parser: results above are not valid (see MISMATCH lines)\n";
    return 1;
  }
  return 0;
}
