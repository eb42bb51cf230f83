// sse-cat's input side for URLs: an ssepp::asio::event_source on an
// io_context of its own, its events (and, when asked, comments and retry
// fields) handed to the json_printer, its state changes and errors written
// to standard error one line each (escaped: they quote the server's URLs and
// fields), and SIGINT/SIGTERM closing it so that sse-cat exits normally, its
// output complete. Part of the sse-cat example.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <ssepp/asio/client.hpp>
#include <ssepp/error.hpp>
#include <ssepp/event.hpp>

#include "json_printer.hpp"
#include "terminal_escape.hpp"

namespace sse_cat {

// How a URL-mode run ended; main() turns it into the exit status.
enum class url_outcome {
  ended,          // the stream ended (with no reconnect) or the server answered 204
  interrupted,    // SIGINT or SIGTERM
  failed,         // an error the client does not retry (any, with no reconnect)
  output_failed,  // standard output could not be written
};

class url_input {
 public:
  url_input(std::string url, ssepp::asio::client_options options, json_printer& printer,
            bool print_comments, bool print_retry)
      : url_(std::move(url)),
        options_(std::move(options)),
        printer_(printer),
        print_comments_(print_comments),
        print_retry_(print_retry) {}

  // Streams until the client closes: after an error it does not retry, a
  // 204, the stream's end with options.reconnect off, a signal, or a failed
  // write to standard output. Call once.
  url_outcome run() {
    ::asio::io_context io;
    // Before the client starts, so a signal arriving at any moment after
    // this is handled by close() rather than killing the process.
    ::asio::signal_set signals(io, SIGINT, SIGTERM);
    source_ = ssepp::asio::event_source::create(io.get_executor(), url_, options_);

    source_->on_any([this](const ssepp::message& m) {
      printer_.on_event(m);
      if (printer_.write_error()) stop(url_outcome::output_failed);
    });
    // The printer writes only what it was asked to, but the client's
    // callbacks are set only when needed: comments include every heartbeat.
    if (print_comments_) {
      source_->on_comment([this](std::string_view text) {
        printer_.on_comment(text);
        if (printer_.write_error()) stop(url_outcome::output_failed);
      });
    }
    if (print_retry_) {
      source_->on_retry([this](std::chrono::milliseconds time) {
        printer_.on_retry(time);
        if (printer_.write_error()) stop(url_outcome::output_failed);
      });
    }
    source_->on_open([this] { say("connected to " + source_->url()); });
    source_->on_error([this](const ssepp::asio::client_error& e) { on_error(e); });
    source_->on_close([this, &signals] {
      // The only silent way to closed is the server's 204: errors came
      // through on_error first, and our own close() set the outcome.
      if (!decided_) {
        decide(url_outcome::ended);
        say("the server answered 204 No Content: not reconnecting");
      }
      std::error_code ignored;
      signals.cancel(ignored);  // the last outstanding work: run() returns
    });
    signals.async_wait([this](std::error_code ec, int) {
      if (!ec) stop(url_outcome::interrupted);
    });

    source_->start();
    io.run();
    source_.reset();
    return outcome_;
  }

 private:
  void on_error(const ssepp::asio::client_error& e) {
    if (e.will_reconnect) {
      say("reconnecting in " + std::to_string(e.retry_in.count()) + " ms: " + e.message);
      return;
    }
    // Without reconnecting, the server ending the stream is the normal end.
    if (e.code == ssepp::errc::stream_ended) {
      decide(url_outcome::ended);
      say(e.message);
      return;
    }
    decide(url_outcome::failed);
    say(describe(e));
  }

  // The client's message, except that limits are named as the options
  // that set them.
  std::string describe(const ssepp::asio::client_error& e) const {
    const std::string where = " in the stream from " + source_->url();
    if (e.code == ssepp::errc::line_too_long)
      return "line longer than --max-line-size (" + std::to_string(options_.parser.max_line_size) +
             " bytes)" + where;
    if (e.code == ssepp::errc::event_too_large)
      return "event data larger than --max-event-size (" +
             std::to_string(options_.parser.max_event_size) + " bytes)" + where;
    return e.message;
  }

  // The first reason to end wins (a signal during a failing write, say).
  void decide(url_outcome outcome) {
    if (decided_) return;
    decided_ = true;
    outcome_ = outcome;
  }

  void stop(url_outcome outcome) {
    decide(outcome);
    source_->close();
  }

  static void say(const std::string& line) { print_message(line); }

  std::string url_;
  ssepp::asio::client_options options_;
  json_printer& printer_;
  bool print_comments_;
  bool print_retry_;
  std::shared_ptr<ssepp::asio::event_source> source_;
  bool decided_ = false;
  url_outcome outcome_ = url_outcome::ended;
};

}  // namespace sse_cat
