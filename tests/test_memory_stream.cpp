// The in-memory Asio stream pair: what one end writes the other reads, in
// order, never completing inline; close, shutdown, cancel and destruction
// as a socket's; and the test hooks (read_size, write_size, max_buffered,
// fail_read, fail_write) that the server's and client's tests rely on.
// Built twice: on standalone Asio and on Boost.Asio (SSEPP_ASIO_BOOST).
#include <ssepp/asio/memory_stream.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>  // doctest prints error codes through it
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ssepp/asio/stream_transport.hpp>

namespace {
using ssepp::asio::error_code;
using ssepp::asio::make_memory_stream_pair;
using ssepp::asio::memory_stream;
namespace net = ssepp::asio::net;

// Runs the handlers that are ready, and returns rather than wait for the
// operations still waiting (which keep the context's work count up).
void run_ready(net::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

// Runs until no operation waits. (A context whose work ran out is stopped
// until restarted, hence the restart.)
void run_all(net::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

struct outcome {
  bool done = false;
  error_code ec;
  std::size_t n = 0;
};

auto into(outcome& o) {
  return [&o](error_code ec, std::size_t n) {
    o.done = true;
    o.ec = ec;
    o.n = n;
  };
}

// Reads until eof or an error; the bytes read, and how each read split them.
struct drain {
  explicit drain(memory_stream& stream) : s(stream) {}
  memory_stream& s;
  std::string bytes;
  std::vector<std::size_t> reads;
  error_code ec;
  char buf[64] = {};

  void start() {
    s.async_read_some(net::buffer(buf), [this](error_code e, std::size_t n) {
      bytes.append(buf, n);
      if (n != 0) reads.push_back(n);
      if (e) {
        ec = e;
        return;
      }
      start();
    });
  }
};
}  // namespace

TEST_CASE("bytes written with async_write on one end are read with async_read on the other") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  const std::string sent = "data: hello\n\n";
  std::string got(sent.size(), '\0');
  outcome w, r;
  net::async_write(a, net::buffer(sent), into(w));
  net::async_read(b, net::buffer(got), into(r));
  run_all(ioc);
  CHECK(w.ec == error_code{});
  CHECK(w.n == sent.size());
  CHECK(r.ec == error_code{});
  CHECK(got == sent);

  SUBCASE("and the other way, with a move-only handler") {
    auto token = std::make_unique<int>(7);
    int seen = 0;
    net::async_write(b, net::buffer(sent),
                     [t = std::move(token), &seen](error_code, std::size_t) { seen = *t; });
    std::string back;
    net::async_read_until(a, net::dynamic_buffer(back), "\n\n", into(r));
    run_ready(ioc);
    CHECK(seen == 7);
    CHECK(back == sent);
  }
}

TEST_CASE("writes arrive in the order they were made, across buffer sequences") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  const std::string one = "one ", two = "two ", three = "three";
  const std::vector<net::const_buffer> pieces{net::buffer(two), net::buffer(three)};
  outcome w2;
  net::async_write(a, net::buffer(one), [&a = a, &pieces, &w2](error_code, std::size_t) {
    net::async_write(a, pieces, into(w2));
  });
  drain d{b};
  d.start();
  run_ready(ioc);
  a.close();
  run_all(ioc);
  CHECK(w2.ec == error_code{});
  CHECK(d.bytes == "one two three");
  CHECK(d.ec == net::error::eof);
}

TEST_CASE("a handler is never invoked from the initiating function") {
  // Initiated from a handler on the stream's context, where a dispatch
  // (rather than a post) would run the handler inline.
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  char buf[8];
  bool initiated = false, seen_initiated = false;
  auto check = [&](error_code, std::size_t) { seen_initiated = initiated; };
  auto initiate = [&](auto start) {
    net::post(ioc, [&, start] {
      start();
      initiated = true;
    });
  };

  SUBCASE("a write that can complete at once") {
    initiate([&a = a, check] { a.async_write_some(net::buffer("x", 1), check); });
  }
  SUBCASE("a read of bytes already there") {
    b.async_write_some(net::buffer("x", 1), [](error_code, std::size_t) {});
    initiate([&a = a, &buf, check] { a.async_read_some(net::buffer(buf), check); });
  }
  SUBCASE("a read on a closed end") {
    a.close();
    initiate([&a = a, &buf, check] { a.async_read_some(net::buffer(buf), check); });
  }
  SUBCASE("a read aborted by close") {
    a.async_read_some(net::buffer(buf), check);
    initiate([&a = a] { a.close(); });
  }
  run_all(ioc);
  CHECK(seen_initiated);
}

TEST_CASE("a read that waits is completed by the peer's write, not inside it") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  char buf[8];
  outcome r;
  a.async_read_some(net::buffer(buf), into(r));
  run_ready(ioc);
  CHECK_FALSE(r.done);
  b.async_write_some(net::buffer("xyz", 3), [](error_code, std::size_t) {});
  CHECK_FALSE(r.done);
  run_all(ioc);
  CHECK(r.n == 3);
}

TEST_CASE("a handler bound to a strand runs on that strand") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  auto strand = net::make_strand(ioc);
  bool on_strand = false;
  a.async_write_some(net::buffer("x", 1), net::bind_executor(strand, [&](error_code, std::size_t) {
                       on_strand = strand.running_in_this_thread();
                     }));
  run_all(ioc);
  CHECK(on_strand);
}

TEST_CASE("after the peer closes, a read gets the bytes already written and then eof") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  net::async_write(a, net::buffer("last words", 10), [](error_code, std::size_t) {});
  run_ready(ioc);

  SUBCASE("closed") { a.close(); }
  SUBCASE("shut down for sending") {
    error_code ec;
    a.shutdown(net::socket_base::shutdown_send, ec);
    CHECK(ec == error_code{});
    CHECK(a.is_open());
  }
  SUBCASE("destroyed") { memory_stream gone = std::move(a); }
  drain d{b};
  d.start();
  run_all(ioc);
  CHECK(d.bytes == "last words");
  CHECK(d.ec == net::error::eof);
}

TEST_CASE("a write to a peer that closed fails with broken_pipe") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  SUBCASE("closed") { b.close(); }
  SUBCASE("shut down both ways") {
    error_code ec;
    b.shutdown(net::socket_base::shutdown_both, ec);
  }
  SUBCASE("destroyed") { memory_stream gone = std::move(b); }
  outcome w;
  net::async_write(a, net::buffer("hello", 5), into(w));
  run_all(ioc);
  CHECK(w.ec == net::error::broken_pipe);
  CHECK(w.n == 0);
}

TEST_CASE(
    "closing an end completes its waiting read with operation_aborted, later ones with "
    "bad_descriptor") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  char buf[8];
  outcome waiting, later;
  a.async_read_some(net::buffer(buf), into(waiting));
  run_ready(ioc);
  CHECK_FALSE(waiting.done);
  a.close();
  CHECK_FALSE(a.is_open());
  a.async_read_some(net::buffer(buf), into(later));
  run_all(ioc);
  CHECK(waiting.ec == net::error::operation_aborted);
  CHECK(later.ec == net::error::bad_descriptor);
}

TEST_CASE("cancel completes waiting operations with operation_aborted and leaves the end open") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  char buf[8];
  outcome r, again;
  a.async_read_some(net::buffer(buf), into(r));
  run_ready(ioc);
  a.cancel();
  run_all(ioc);
  CHECK(r.ec == net::error::operation_aborted);
  CHECK(a.is_open());
  a.async_read_some(net::buffer(buf), into(again));
  net::async_write(b, net::buffer("ok", 2), [](error_code, std::size_t) {});
  run_all(ioc);
  CHECK(again.n == 2);
}

TEST_CASE("a second read while one waits fails with in_progress") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  char buf[8];
  outcome first, second;
  a.async_read_some(net::buffer(buf), into(first));
  a.async_read_some(net::buffer(buf), into(second));
  run_ready(ioc);
  CHECK_FALSE(first.done);
  CHECK(second.ec == net::error::in_progress);
  a.close();
  run_all(ioc);
}

TEST_CASE("read_size limits every read, so a reader sees each split of the bytes") {
  const std::string sent = "event: x\ndata: 12345\n\n";
  for (std::size_t k = 1; k <= sent.size(); ++k) {
    CAPTURE(k);
    net::io_context ioc;
    auto [a, b] = make_memory_stream_pair(ioc);
    b.read_size(k);
    net::async_write(a, net::buffer(sent), [&a = a](error_code, std::size_t) { a.close(); });
    drain d{b};
    d.start();
    run_all(ioc);
    CHECK(d.bytes == sent);
    REQUIRE(!d.reads.empty());
    CHECK(d.reads.size() == (sent.size() + k - 1) / k);
    for (std::size_t i = 0; i + 1 < d.reads.size(); ++i) CHECK(d.reads[i] == k);
  }
}

TEST_CASE("write_size makes async_write loop and still deliver every byte") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  a.write_size(3);
  outcome w;
  std::size_t first_some = 0;
  a.async_write_some(net::buffer("abcdefgh", 8),
                     [&a = a, &first_some, &w](error_code, std::size_t n) {
                       first_some = n;
                       net::async_write(a, net::buffer("defgh", 5), into(w));
                     });
  run_all(ioc);
  CHECK(first_some == 3);
  CHECK(w.n == 5);
  CHECK(b.str() == "abcdefgh");
}

TEST_CASE("fail_write makes the nth write fail with the given error, once") {
  // write_size 2 splits the 6 bytes into 3 write_somes: n = 1..3 reaches
  // each, and n = 4 is past them all.
  for (std::size_t n = 1;; ++n) {
    CAPTURE(n);
    net::io_context ioc;
    auto [a, b] = make_memory_stream_pair(ioc);
    a.write_size(2);
    a.fail_write(n, net::error::connection_reset);
    outcome w;
    net::async_write(a, net::buffer("abcdef", 6), into(w));
    run_all(ioc);
    if (!w.ec) {
      CHECK(n == 4);
      CHECK(b.str() == "abcdef");
      break;
    }
    CHECK(w.ec == net::error::connection_reset);
    CHECK(b.str() == std::string("abcdef").substr(0, 2 * (n - 1)));
    outcome next;
    a.async_write_some(net::buffer("z", 1), into(next));  // the end still works
    run_all(ioc);
    CHECK(next.n == 1);
    REQUIRE(n < 4);
  }
}

TEST_CASE("fail_read makes the nth read fail with the given error") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  b.read_size(1);
  b.fail_read(3, net::error::timed_out);
  std::string got(4, '\0');
  outcome r;
  net::async_write(a, net::buffer("abcd", 4), [](error_code, std::size_t) {});
  net::async_read(b, net::buffer(got), into(r));
  run_all(ioc);
  CHECK(r.ec == net::error::timed_out);
  CHECK(r.n == 2);
}

TEST_CASE("a writer blocked at max_buffered resumes when the peer reads") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  a.max_buffered(4);
  const std::string sent = "hello world";
  outcome w;
  net::async_write(a, net::buffer(sent), into(w));
  run_ready(ioc);
  CHECK_FALSE(w.done);
  CHECK(b.buffered() == 4);

  SUBCASE("with reads") {
    std::string got(sent.size(), '\0');
    net::async_read(b, net::buffer(got), [](error_code, std::size_t) {});
    run_all(ioc);
    CHECK(got == sent);
  }
  SUBCASE("with take") {
    CHECK(b.take() == "hell");
    run_ready(ioc);
    CHECK(b.take() == "o wo");
    run_ready(ioc);
    CHECK(b.take() == "rld");
    run_all(ioc);
  }
  CHECK(w.ec == error_code{});
  CHECK(w.n == sent.size());
}

TEST_CASE("a writer blocked at max_buffered fails with broken_pipe when the peer closes") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  a.max_buffered(0);  // a peer that never reads
  outcome w;
  net::async_write(a, net::buffer("stuck", 5), into(w));
  run_ready(ioc);
  CHECK_FALSE(w.done);
  b.close();
  run_all(ioc);
  CHECK(w.ec == net::error::broken_pipe);
}

TEST_CASE("two threads, one per end, each end's handlers on its own strand, exchange every byte") {
  // Each end runs on its own io_context and thread: the streams' executor
  // is the first context's, and the second end's handlers are bound to a
  // strand of the second, so completions cross threads both ways.
  net::io_context ioc_a, ioc_b;
  auto [a, b] = make_memory_stream_pair(ioc_a);
  a.write_size(7);
  b.read_size(5);
  b.max_buffered(64);
  std::string a_sends, b_sends;
  for (int i = 0; i < 2000; ++i) a_sends += std::to_string(i) + ",";
  for (int i = 0; i < 1000; ++i) b_sends += "<" + std::to_string(i) + ">";

  struct side {
    side(memory_stream& stream, net::strand<net::io_context::executor_type> st,
         const std::string& out)
        : s(stream), strand(std::move(st)), sends(out) {}
    memory_stream& s;
    net::strand<net::io_context::executor_type> strand;
    const std::string& sends;
    std::string got;
    error_code read_ec;
    char buf[16] = {};
    void read() {
      s.async_read_some(net::buffer(buf),
                        net::bind_executor(strand, [this](error_code e, std::size_t n) {
                          got.append(buf, n);
                          if (e)
                            read_ec = e;
                          else
                            read();
                        }));
    }
    void start() {
      net::async_write(s, net::buffer(sends),
                       net::bind_executor(strand, [this](error_code, std::size_t) {
                         error_code ignored;
                         s.shutdown(net::socket_base::shutdown_send, ignored);
                       }));
      read();
    }
  };
  side sa{a, net::make_strand(ioc_a.get_executor()), a_sends};
  side sb{b, net::make_strand(ioc_b.get_executor()), b_sends};
  net::post(sa.strand, [&] { sa.start(); });
  net::post(sb.strand, [&] { sb.start(); });
  std::thread ta([&] { ioc_a.run(); });
  std::thread tb([&] { ioc_b.run(); });
  ta.join();
  tb.join();
  CHECK(sb.got == a_sends);
  CHECK(sa.got == b_sends);
  CHECK(sa.read_ec == net::error::eof);
  CHECK(sb.read_ec == net::error::eof);
}

TEST_CASE("destroying an end completes its waiting operations with operation_aborted") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  b.max_buffered(0);
  char buf[8];
  outcome r, w;
  auto end = std::make_unique<memory_stream>(std::move(b));
  end->async_read_some(net::buffer(buf), into(r));
  end->async_write_some(net::buffer("x", 1), into(w));
  run_ready(ioc);
  CHECK_FALSE(r.done);
  end.reset();
  drain d{a};
  d.start();
  run_all(ioc);
  CHECK(r.ec == net::error::operation_aborted);
  CHECK(w.ec == net::error::operation_aborted);
  CHECK(d.ec == net::error::eof);
}

TEST_CASE("destroying the io_context frees a stream its own waiting handler owns") {
  std::weak_ptr<memory_stream> watch;
  std::optional<memory_stream> peer;
  bool ran = false;
  {
    net::io_context ioc;
    auto [a, b] = make_memory_stream_pair(ioc);
    peer.emplace(std::move(b));
    auto owned = std::make_shared<memory_stream>(std::move(a));
    watch = owned;
    auto buf = std::make_shared<std::string>(8, '\0');
    owned->async_read_some(net::buffer(*buf),
                           [owned, buf, &ran](error_code, std::size_t) { ran = true; });
    owned.reset();
    run_ready(ioc);
    CHECK_FALSE(watch.expired());  // the session keeps itself alive, as with a socket
  }
  CHECK(watch.expired());
  CHECK_FALSE(ran);
}

TEST_CASE("close_stream from stream_transport closes a memory_stream like a socket") {
  net::io_context ioc;
  auto [a, b] = make_memory_stream_pair(ioc);
  ssepp::asio::detail::close_stream(a);
  CHECK_FALSE(a.is_open());
  CHECK(&a.lowest_layer() == &a);
  drain d{b};
  d.start();
  run_all(ioc);
  CHECK(d.ec == net::error::eof);
}
