// httplib_server: an ordinary cpp-httplib application (its own route
// GET /hello) that also serves hub channels through ssepp::httplib:
//   GET  /events/{channel}                   subscribe (Last-Event-ID header
//                                            or ?lastEventId=ID resumes)
//   POST /publish/{channel}?event=TYPE&id=ID publish the body as data;
//                                            answers the event's id
// The lines marked "// ssepp" are all it takes on top of the application.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

#include <ssepp/httplib/event_stream.hpp>  // ssepp

#include "../common/command_line.hpp"

namespace {

constexpr const char* usage_text =
    R"(Usage: httplib_server [OPTION]...
A cpp-httplib server with GET /hello, serving event streams by channel:
  GET  /events/{channel}                 subscribe (Last-Event-ID header or
                                         ?lastEventId=ID resumes after ID)
  POST /publish/{channel}?event=TYPE&id=ID
                                         publish the body as data; TYPE and ID
                                         are optional; answers the event's id

Options:
  --host ADDRESS        address to listen on (default 127.0.0.1)
  --port N              port to listen on; 0 picks a free one (default 8083)
  --heartbeat-ms N      comment line to streams idle this long; 0: none
                        (default 15000)
  --history N           events kept per channel for replay (default 1024)
  --queue-events N      events queued per slow subscriber at most (default 1024)
  -h, --help            print this help and exit
Prints "httplib_server: listening on http://HOST:PORT/" once listening (the
real port with --port 0); SIGINT or SIGTERM stops it gracefully.
)";

struct command_line {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8083;
  ssepp::httplib::event_stream_options events;  // ssepp
  bool help = false;
};

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.is("--host")) {
      cl.host = args.value();
    } else if (args.is("--port")) {
      cl.port = args.number<std::uint16_t>();
    } else if (args.is("--heartbeat-ms")) {
      cl.events.hub.heartbeat_interval =                            // ssepp
          std::chrono::milliseconds{args.number<std::uint32_t>()};  // ssepp
    } else if (args.is("--history")) {
      cl.events.hub.history_events = args.number<std::size_t>();  // ssepp
    } else if (args.is("--queue-events")) {
      cl.events.hub.max_queued_events = args.number<std::size_t>(1);  // ssepp
    } else {
      args.unknown();
    }
  }
  return cl;
}

int run(command_line& cl) {
  // Signals are taken by one thread with sigwait, so they are blocked before
  // any thread starts (the server's pool, ssepp's driver) and inherit that.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  httplib::Server server;
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello from cpp-httplib\n", "text/plain");
  });

  // GET /events/{channel}; sizes the server's pool for the streams.
  ssepp::httplib::event_stream_server events(server, cl.events);  // ssepp
  server.Post("/publish/(.+)", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string type = req.get_param_value("event"), id = req.get_param_value("id");
    const auto sent = events.publish(req.matches[1].str(), {req.body, type, id});  // ssepp
    if (sent.error) {                                                              // ssepp
      res.status = 400;
      res.set_content("cannot publish: " + sent.error.message() + "\n", "text/plain");  // ssepp
    } else {
      res.set_content(sent.id + "\n", "text/plain");  // ssepp
    }
  });

  const int port = cl.port == 0 ? server.bind_to_any_port(cl.host)
                                : (server.bind_to_port(cl.host, cl.port) ? cl.port : -1);
  if (port <= 0) {
    std::fprintf(stderr, "httplib_server: cannot listen on %s port %u\n", cl.host.c_str(),
                 static_cast<unsigned>(cl.port));
    return 1;
  }
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    events.stop();  // ssepp: streams end after what is queued
    // Let them send their last chunk before the server stops calling them.
    for (int i = 0; i < 200 && events.open_streams() > 0; ++i)  // ssepp
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    server.stop();
  });
  std::printf("httplib_server: listening on %s/\n",
              example::http_origin(cl.host, static_cast<std::uint16_t>(port)).c_str());
  std::fflush(stdout);
  const bool listened = server.listen_after_bind();
  if (!listened) kill(getpid(), SIGTERM);  // ends the stopper thread
  stopper.join();
  return listened ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("httplib_server", usage_text, argc, argv, parse_command_line, run);
}
