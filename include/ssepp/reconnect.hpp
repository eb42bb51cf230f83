// When a client should reconnect: the server's `retry:` time as a floor,
// exponential backoff with jitter while failures repeat, a cap, and
// Retry-After. Pure arithmetic, so it is tested without a clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace ssepp {

/// How reconnection delays grow; defaults follow what browsers and SSE
/// client libraries do, with jitter so a restarted server is not hit by
/// every client in the same millisecond.
struct reconnect_options {
  /// Delay before the first reconnect until the server sends `retry:`
  /// (3 s, the HTML standard's suggestion and Chromium's default).
  std::chrono::milliseconds initial = std::chrono::seconds{3};
  /// Each further consecutive failure multiplies the delay by this.
  double multiplier = 2.0;
  /// No delay grows past this (Retry-After may still ask for more).
  std::chrono::milliseconds max = std::chrono::seconds{30};
  /// Where exponential growth starts when the server's retry is smaller
  /// (`retry: 0` would otherwise reconnect in a tight loop to a server that
  /// keeps failing). The first reconnect still waits only the retry time.
  /// The default, 1 ms, doubles to a second within ten failures.
  std::chrono::milliseconds min_backoff = std::chrono::milliseconds{1};
  /// Each delay is drawn uniformly from [d, d * (1 + jitter)] (then capped):
  /// never below the server's retry floor. 0 disables.
  double jitter = 0.3;
};

/// Tracks consecutive failures and computes the next delay.
///
/// Thread safety: not safe for concurrent use.
class reconnect_policy {
 public:
  explicit reconnect_policy(reconnect_options options = {},
                            std::uint64_t seed = std::random_device{}())
      : options_(options), floor_(options.initial), rng_(seed) {}

  /// The server's `retry:` field: the new floor of every delay.
  void set_retry(std::chrono::milliseconds retry) noexcept { floor_ = retry; }
  std::chrono::milliseconds retry() const noexcept { return floor_; }

  /// A connection succeeded (the stream opened): backoff starts over.
  void succeeded() noexcept { failures_ = 0; }

  /// The delay before the next attempt, counting this as one more failure.
  /// `retry_after` (from a 503/429 answer) is honoured as a minimum.
  std::chrono::milliseconds next_delay(std::chrono::milliseconds retry_after = {}) {
    const double cap = static_cast<double>(std::max(options_.max, floor_).count());
    double d = static_cast<double>(floor_.count());
    if (failures_ > 0) d = std::max(d, static_cast<double>(options_.min_backoff.count()));
    for (unsigned i = 0; i < failures_ && d < cap; ++i) d *= options_.multiplier;
    if (options_.jitter > 0) {
      std::uniform_real_distribution<double> spread(1.0, 1.0 + options_.jitter);
      d *= spread(rng_);
    }
    d = std::min(d, cap);
    ++failures_;
    // A cap near milliseconds::max() (a huge `retry:` saturates to it) rounds
    // up to 2^63 as a double, which does not convert back (undefined
    // behaviour): at the cap, take it from its integer form.
    const auto delay =
        d >= cap ? std::max(options_.max, floor_)
                 : std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(d)};
    return std::max(delay, retry_after);
  }

  /// Consecutive failures so far.
  unsigned failures() const noexcept { return failures_; }

 private:
  reconnect_options options_;
  std::chrono::milliseconds floor_;
  unsigned failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace ssepp
