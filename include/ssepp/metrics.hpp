// A hub's counters in Prometheus's text exposition format (version 0.0.4),
// for an application's own GET /metrics: `prometheus_metrics(hub.stats())`.
// No I/O: the caller serves the text with `prometheus_content_type`.
// `prometheus_writer` writes further metric families in the same format
// (the bundled server's HTTP counters use it: <ssepp/asio/metrics.hpp>).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "hub.hpp"

namespace ssepp {

/// The Content-Type of Prometheus's text exposition format.
inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

/// Appends metric families to a string in Prometheus's text format: a
/// `# HELP` and a `# TYPE` line per family, then its samples. Names must
/// match `[a-zA-Z_:][a-zA-Z0-9_:]*` (not checked: they are the caller's
/// constants); help texts and label values are escaped as the format asks.
///
/// Thread safety: one writer per string, used from one thread at a time.
class prometheus_writer {
 public:
  using label = std::pair<std::string_view, std::string_view>;

  explicit prometheus_writer(std::string& out) : out_(out) {}

  /// A family of one unlabelled sample. `type` is "counter" or "gauge";
  /// a counter's name ends in `_total`, as Prometheus's conventions ask.
  void single(std::string_view name, std::string_view type, std::string_view help,
              std::uint64_t value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    single(name, "counter", help, value);
  }
  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    single(name, "gauge", help, value);
  }

  /// Starts a family whose samples follow (sample(), one per label set).
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (const char c : help) {
      if (c == '\\')
        out_ += "\\\\";
      else if (c == '\n')
        out_ += "\\n";
      else
        out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  /// One sample line: `name{labels} value`.
  void sample(std::string_view name, std::initializer_list<label> labels, std::uint64_t value) {
    sample_text(name, labels, std::to_string(value));
  }
  /// One sample line with a value already written as text ("0.25", "+Inf").
  void sample_text(std::string_view name, std::initializer_list<label> labels,
                   std::string_view value) {
    out_ += name;
    if (labels.size() != 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [key, text] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += key;
        out_ += "=\"";
        for (const char c : text) {
          if (c == '\\')
            out_ += "\\\\";
          else if (c == '"')
            out_ += "\\\"";
          else if (c == '\n')
            out_ += "\\n";
          else
            out_ += c;
        }
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  /// A histogram family from per-bucket counts: cumulative `_bucket`
  /// samples (`le` from `bound_text`, then "+Inf"), `_sum` (already text,
  /// in the family's unit) and `_count`.
  template <std::size_t N, class BoundText>
  void histogram(std::string_view name, std::string_view help, const histogram_counts<N>& counts,
                 const std::array<std::uint64_t, N>& bounds, BoundText bound_text,
                 std::string_view sum) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < N; ++i) {
      running += counts.buckets[i];
      const std::string le = bound_text(bounds[i]);
      sample(bucket, {{"le", le}}, running);
    }
    running += counts.buckets[N];
    sample(bucket, {{"le", "+Inf"}}, running);
    sample_text(std::string(name) + "_sum", {}, sum);
    sample(std::string(name) + "_count", {}, running);
  }

  /// `units` as a decimal fraction of 10^`digits` units ("0.00025" for 250
  /// and 6): exact, without floating point's "2.5e-04".
  static std::string decimal(std::uint64_t units, int digits) {
    std::uint64_t scale = 1;
    for (int i = 0; i < digits; ++i) scale *= 10;
    std::string text = std::to_string(units / scale);
    std::string fraction = std::to_string(units % scale);
    fraction.insert(0, static_cast<std::size_t>(digits) - fraction.size(), '0');
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
    if (!fraction.empty()) text += '.' + fraction;
    return text;
  }

 private:
  std::string& out_;
};

/// Appends `stats` to `out` as Prometheus metric families, every name
/// prefixed `ssepp_`: gauges for what the hub holds now (subscribers,
/// channels, history events and bytes), counters (`_total`) for what it
/// did (events published, deliveries, bytes written, writes, heartbeats,
/// slow-consumer disconnects, dropped events, history evictions), and two
/// histograms: events per write and publish-to-write delay in seconds.
inline void append_prometheus_metrics(std::string& out, const hub_stats& stats) {
  prometheus_writer w(out);
  w.gauge("ssepp_subscribers", "Event streams subscribed now.", stats.subscribers);
  w.gauge("ssepp_channels", "Channels the hub holds now (with history or subscribers).",
          stats.channels);
  w.gauge("ssepp_history_events", "Events held in the channels' history for replay.",
          stats.history_events);
  w.gauge("ssepp_history_bytes",
          "What the history costs against its byte bound (events, ids and bookkeeping).",
          stats.history_bytes);
  w.counter("ssepp_events_published_total", "Events accepted by publish.", stats.published);
  w.counter("ssepp_deliveries_total", "Events written to a subscriber (replays included).",
            stats.deliveries);
  w.counter("ssepp_written_bytes_total", "Bytes of completed writes to subscribers.",
            stats.bytes_written);
  w.counter("ssepp_writes_total", "Completed writes to subscribers (one carries many events).",
            stats.writes);
  w.counter("ssepp_heartbeats_total", "Heartbeat comments written to idle streams.",
            stats.heartbeats);
  w.counter("ssepp_slow_consumer_disconnects_total",
            "Subscribers closed because their queue overflowed (overflow policy disconnect).",
            stats.slow_consumer_disconnects);
  w.counter("ssepp_dropped_events_total",
            "Queued events dropped for slow subscribers (overflow policy drop-oldest).",
            stats.dropped_events);
  w.counter("ssepp_history_evictions_total",
            "Events evicted from history by its count, byte, age or channel bounds.",
            stats.history_evictions);
  w.histogram(
      "ssepp_events_per_write", "Events per completed write to a subscriber.",
      stats.events_per_write, events_per_write_bounds,
      [](std::uint64_t n) { return std::to_string(n); },
      std::to_string(stats.events_per_write.sum));
  w.histogram(
      "ssepp_delivery_delay_seconds",
      "Time from publish to the completed write, per live event delivered (replays not counted).",
      stats.delivery_delay, delivery_delay_bounds_us,
      [](std::uint64_t us) { return prometheus_writer::decimal(us, 6); },
      prometheus_writer::decimal(stats.delivery_delay.sum, 9));
}

/// `stats` in Prometheus's text format (see append_prometheus_metrics).
inline std::string prometheus_metrics(const hub_stats& stats) {
  std::string out;
  append_prometheus_metrics(out, stats);
  return out;
}

}  // namespace ssepp
