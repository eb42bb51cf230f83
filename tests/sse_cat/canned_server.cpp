// A server for sse-cat's URL tests that answers with bytes no real server
// would send (control bytes in a field, malformed UTF-8 in a Location):
//
//   canned_server RESPONSE... -- COMMAND [ARG]...
//
// Listens on 127.0.0.1 and a free port, runs COMMAND with each "{origin}" in
// its arguments replaced by http://127.0.0.1:PORT, and answers COMMAND's
// N-th connection with the bytes of the N-th RESPONSE file, exactly as they
// are, once its request head has arrived; then closes that connection. After
// the last RESPONSE it stops listening, so a further connection is refused.
// Exits with COMMAND's exit status (128 + N when signal N ended it), or 125
// when it fails itself (after 20 s it kills COMMAND and gives up). Its
// messages start with "canned_server:"; COMMAND's output passes through.
// POSIX.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int exit_own_failure = 125;
constexpr unsigned give_up_seconds = 20;

volatile sig_atomic_t child_pid = 0;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "canned_server: %s\n", what.c_str());
  if (child_pid > 0) ::kill(child_pid, SIGKILL);
  std::exit(exit_own_failure);
}

extern "C" void on_alarm(int) {
  if (child_pid > 0) ::kill(child_pid, SIGKILL);
  static const char message[] = "canned_server: gave up after 20 s\n";
  (void)!::write(STDERR_FILENO, message, sizeof message - 1);
  ::_exit(exit_own_failure);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Reads until the request head's blank line (CRLF or bare LF, as sse-cat
// never sends) or the end of the connection.
void read_request_head(int fd) {
  std::string in;
  char buffer[4096];
  while (in.find("\r\n\r\n") == std::string::npos && in.find("\n\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(std::string("recv: ") + std::strerror(errno));
    }
    in.append(buffer, static_cast<std::size_t>(n));
  }
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client left: what it got is what the test sees
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

int exit_status_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return exit_own_failure;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> responses;
  int command = 1;
  for (; command < argc && std::string_view(argv[command]) != "--"; ++command)
    responses.push_back(read_file(argv[command]));
  if (command + 1 >= argc) fail("usage: canned_server RESPONSE... -- COMMAND [ARG]...");
  ++command;

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t size = sizeof address;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 8) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size) != 0)
    fail(std::string("cannot listen on 127.0.0.1: ") + std::strerror(errno));
  const std::string origin = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  std::vector<std::string> args;
  for (int i = command; i < argc; ++i) {
    std::string arg = argv[i];
    for (std::size_t at = arg.find("{origin}"); at != std::string::npos;
         at = arg.find("{origin}", at + origin.size()))
      arg.replace(at, 8, origin);
    args.push_back(std::move(arg));
  }
  std::vector<char*> child_argv;
  for (auto& arg : args) child_argv.push_back(arg.data());
  child_argv.push_back(nullptr);

  ::signal(SIGALRM, on_alarm);
  ::alarm(give_up_seconds);
  const pid_t pid = ::fork();
  if (pid < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::execvp(child_argv[0], child_argv.data());
    std::fprintf(stderr, "canned_server: cannot run %s: %s\n", child_argv[0], std::strerror(errno));
    ::_exit(exit_own_failure);
  }
  child_pid = pid;

  int status = 0;
  bool child_done = false;
  for (const std::string& response : responses) {
    // Wait for the next connection, unless COMMAND is already gone.
    pollfd p{listener, POLLIN, 0};
    while (!child_done && ::poll(&p, 1, 100) <= 0)
      child_done = ::waitpid(pid, &status, WNOHANG) == pid;
    if (child_done) break;
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) fail(std::string("accept: ") + std::strerror(errno));
    read_request_head(fd);
    send_all(fd, response);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }
  ::close(listener);
  while (!child_done) {
    if (::waitpid(pid, &status, 0) == pid)
      child_done = true;
    else if (errno != EINTR)
      fail(std::string("waitpid: ") + std::strerror(errno));
  }
  return exit_status_of(status);
}
