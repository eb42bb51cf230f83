// What the server examples with --redis share (hub_server, rtk_query_server):
// putting a server's hub on Redis with ssepp::redis's backplane, on a thread
// of its own, and stopping it before the server. Include it only when the
// program is built with ssepp::redis (libhiredis-dev).
//
//   example::redis_node redis("hub_server");
//   if (!redis.configure(url, prefix, options)) return 1;  // before the server
//   ssepp::asio::server server(options);
//   const auto redis_running = redis.start(server);        // after it
#pragma once

#include <asio.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <ssepp/asio/server.hpp>
#include <ssepp/redis/backplane.hpp>

namespace example {

class redis_node {
 public:
  using backplane_type = ssepp::redis::backplane<ssepp::asio::server::hub_type>;

  /// `program` prefixes the messages it prints.
  explicit redis_node(const char* program) : program_(program) {}
  redis_node(const redis_node&) = delete;
  redis_node& operator=(const redis_node&) = delete;

  /// Reads `url` (redis://HOST[:PORT][/DB]) and routes `o`'s publishing and
  /// resuming through the backplane-to-be: ids are then Redis's, and a
  /// stream resumes from Redis, which still has what a restarted
  /// process's history lost. False (and a message printed) for a bad URL.
  bool configure(const std::string& url, const std::string& prefix,
                 ssepp::asio::server_options& o) {
    const auto address = ssepp::redis::parse_url(url);
    if (!address) {
      std::fprintf(stderr, "%s: --redis wants redis://HOST[:PORT][/DB], got '%s'\n", program_,
                   url.c_str());
      return false;
    }
    options_.redis = *address;
    options_.prefix = prefix;
    options_.stream_events = o.hub.history_events;
    options_.stream_age = o.hub.history_age;
    options_.log = [program = program_](std::string_view text) {
      std::fprintf(stderr, "%s: %.*s\n", program, static_cast<int>(text.size()), text.data());
    };
    o.backplane.publish = [this](std::string channel, std::vector<ssepp::event> events,
                                 std::function<void(ssepp::batch_publish_result)> done) {
      backplane_->publish(std::move(channel), std::move(events), std::move(done));
    };
    o.backplane.resume = [this](std::vector<std::string> channels, std::string id,
                                std::function<void(std::optional<ssepp::replay_plan>)> ready) {
      backplane_->resume(std::move(channels), std::move(id), std::move(ready));
    };
    configured_ = true;
    return true;
  }

  /// Stops the backplane when it goes: declared after the server, it goes
  /// first, while the server's hub still exists.
  class running {
   public:
    explicit running(redis_node* node) : node_(node) {}
    running(const running&) = delete;
    running& operator=(const running&) = delete;
    ~running() {
      if (node_) node_->stop();
    }

   private:
    redis_node* node_;
  };

  /// Starts the backplane on `s`'s hub, if configure() was called. Its
  /// thread reads Redis at once whatever the I/O threads are doing (Redis
  /// drops a pub/sub client that falls behind).
  running start(ssepp::asio::server& s) {
    if (!configured_) return running(nullptr);
    backplane_ = std::make_unique<backplane_type>(io_, s.hub(), options_);
    backplane_->start();
    thread_ = std::thread([this] { io_.run(); });
    return running(this);
  }

  /// The backplane, once started (nullptr otherwise).
  backplane_type* backplane() { return backplane_.get(); }

 private:
  void stop() {
    if (!thread_.joinable()) return;
    backplane_->stop();
    work_.reset();
    thread_.join();
    backplane_.reset();  // before the server and its hub go
  }

  const char* program_;
  ssepp::redis::backplane_options options_;
  bool configured_ = false;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  std::unique_ptr<backplane_type> backplane_;
};

}  // namespace example
