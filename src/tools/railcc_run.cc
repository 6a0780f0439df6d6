// railcc-run: starts N local ranks of a program with the environment railcc reads, hosts the
// rendezvous store, prefixes every output line with its rank, forwards SIGINT/SIGTERM, and when
// one rank fails has the others dump their flight recorder (SIGUSR1), stops them and exits
// non-zero naming the rank. The job gets a secret
// (RAILCC_JOB_KEY: the caller's, else 256 random bits) that the store and every peer socket
// require, so nothing outside the job can join or disturb it.
//
//   railcc-run -n 4 [--] prog args...
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "railcc/status.hpp"
#include "railcc/store.hpp"

namespace {

std::atomic<int> g_signal{0};
void on_signal(int sig) { g_signal = sig; }

// 64 hex characters from the kernel's random generator.
std::string random_job_key() {
  unsigned char raw[32];
  for (std::size_t got = 0; got < sizeof(raw);) {
    const ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
    if (n < 0 && errno != EINTR) throw std::runtime_error("getrandom() failed");
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  std::string hex;
  for (unsigned char b : raw) {
    hex += "0123456789abcdef"[b >> 4];
    hex += "0123456789abcdef"[b & 15];
  }
  return hex;
}

struct Rank {
  int index = 0;
  pid_t pid = -1;
  int out_fd = -1, err_fd = -1;
  std::string out_partial, err_partial;
  bool running = false;
  int status = 0;
};

void emit(const Rank& r, bool prefix, std::string& partial, const char* data, size_t n, FILE* to,
          bool flush_all) {
  partial.append(data, n);
  size_t start = 0;
  while (true) {
    const size_t nl = partial.find('\n', start);
    if (nl == std::string::npos) break;
    if (prefix) std::fprintf(to, "[%d] ", r.index);
    std::fwrite(partial.data() + start, 1, nl - start + 1, to);
    start = nl + 1;
  }
  partial.erase(0, start);
  if (flush_all && !partial.empty()) {
    if (prefix) std::fprintf(to, "[%d] ", r.index);
    std::fprintf(to, "%s\n", partial.c_str());
    partial.clear();
  }
  std::fflush(to);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"railcc-run: launch local ranks of a railcc program",
               "railcc-run [-n N] [--no-prefix] [--grace S] [--] program [args...]"};
  int np = 1;
  bool no_prefix = false;
  double grace_s = 2.0;
  double dump_s = 1.0;
  app.add_option("-n,--np", np, "number of ranks to start")->check(CLI::Range(1, 1024));
  app.add_flag("--no-prefix", no_prefix, "do not prefix output lines with [rank]");
  app.add_option("--grace", grace_s,
                 "seconds between SIGTERM and SIGKILL when stopping the other ranks")
      ->check(CLI::Range(0.0, 600.0));
  app.add_option("--dump-wait", dump_s,
                 "when a rank fails: seconds between SIGUSR1 (the others dump their flight "
                 "recorder) and SIGTERM; 0 sends no SIGUSR1")
      ->check(CLI::Range(0.0, 600.0));
  // Our options come first; the program starts at the first bare word (or after "--"), and
  // everything from there on, its own flags included, belongs to it.
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--" || (!a.empty() && a[0] != '-')) {
      split = i;
      break;
    }
    if (a == "-n" || a == "--np" || a == "--grace" || a == "--dump-wait") ++i;
  }
  std::vector<std::string> command(
      argv + split + (split < argc && std::string(argv[split]) == "--"), argv + argc);
  try {
    app.parse(split, argv);
    if (command.empty()) throw CLI::RequiredError("a program to run (railcc-run -n 4 prog args)");
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  // A key the caller set is kept (so tools outside the job can be let in on purpose); the ranks
  // check its length when they read it.
  const char* given = std::getenv("RAILCC_JOB_KEY");
  std::string job_key;
  std::unique_ptr<railcc::StoreServer> store;
  try {
    job_key = given && *given ? given : random_job_key();
    store = railcc::start_store_server("127.0.0.1", 0, job_key);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "railcc-run: cannot start the rendezvous store: %s\n", e.what());
    return 1;
  }
  const std::string store_addr = "127.0.0.1:" + std::to_string(store->port());

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<Rank> ranks(np);
  for (int i = 0; i < np; ++i) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      std::perror("railcc-run: pipe");
      return 1;
    }
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("railcc-run: fork");
      return 1;
    }
    if (pid == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      setenv("RAILCC_RANK", std::to_string(i).c_str(), 1);
      setenv("RAILCC_WORLD_SIZE", std::to_string(np).c_str(), 1);
      setenv("RAILCC_LOCAL_RANK", std::to_string(i).c_str(), 1);
      setenv("RAILCC_LOCAL_WORLD_SIZE", std::to_string(np).c_str(), 1);
      setenv("RAILCC_STORE_ADDR", store_addr.c_str(), 1);
      setenv("RAILCC_JOB_KEY", job_key.c_str(), 1);
      std::vector<char*> args;
      for (auto& s : command) args.push_back(s.data());
      args.push_back(nullptr);
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGPIPE, SIG_DFL);
      execvp(args[0], args.data());
      std::fprintf(stderr, "railcc-run: cannot execute %s: %s\n", args[0], std::strerror(errno));
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    ranks[i] = {i, pid, out[0], err[0], "", "", true, 0};
  }

  int exit_code = 0;
  int running = np;
  bool stopping = false;
  std::chrono::steady_clock::time_point kill_at{};
  // When a rank fails, the others first get SIGUSR1 (railcc's flight recorder dumps what each
  // was doing: the evidence `railcc-report` names the culprit from), SIGTERM after --dump-wait.
  auto term_at = std::chrono::steady_clock::time_point::max();
  auto stop_all = [&](int sig) {
    for (auto& r : ranks) {
      if (r.running) kill(r.pid, sig);
    }
  };
  while (running > 0 || std::any_of(ranks.begin(), ranks.end(),
                                    [](const Rank& r) { return r.out_fd >= 0 || r.err_fd >= 0; })) {
    std::vector<pollfd> fds;
    std::vector<std::pair<Rank*, bool>> owners;  // (rank, is_stderr)
    for (auto& r : ranks) {
      if (r.out_fd >= 0) fds.push_back({r.out_fd, POLLIN, 0}), owners.push_back({&r, false});
      if (r.err_fd >= 0) fds.push_back({r.err_fd, POLLIN, 0}), owners.push_back({&r, true});
    }
    if (!fds.empty())
      poll(fds.data(), fds.size(), 50);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto [r, is_err] = owners[i];
      char buf[65536];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      std::string& partial = is_err ? r->err_partial : r->out_partial;
      FILE* to = is_err ? stderr : stdout;
      if (n > 0) {
        emit(*r, !no_prefix, partial, buf, static_cast<size_t>(n), to, false);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        emit(*r, !no_prefix, partial, "", 0, to, true);
        close(fds[i].fd);
        (is_err ? r->err_fd : r->out_fd) = -1;
      }
    }
    if (const int sig = g_signal.exchange(0)) {
      std::fprintf(stderr, "railcc-run: received signal %d, forwarding it to every rank\n", sig);
      stop_all(sig);
      if (!stopping) {
        stopping = true;
        exit_code = 128 + sig;
        kill_at = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(grace_s * 1000));
      }
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& r : ranks) {
        if (r.pid != pid || !r.running) continue;
        r.running = false;
        r.status = status;
        --running;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !stopping) {
          std::fprintf(stderr, "railcc-run: rank %d (pid %d) %s; stopping the other ranks\n",
                       r.index, static_cast<int>(r.pid), describe_status(status).c_str());
          exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          stopping = true;
          const auto now = std::chrono::steady_clock::now();
          if (dump_s > 0) {
            stop_all(SIGUSR1);
            term_at = now + std::chrono::milliseconds(static_cast<int>(dump_s * 1000));
          } else {
            term_at = now;
          }
          kill_at = term_at + std::chrono::milliseconds(static_cast<int>(grace_s * 1000));
        }
      }
    }
    if (stopping && running > 0 && std::chrono::steady_clock::now() >= term_at) {
      stop_all(SIGTERM);
      term_at = std::chrono::steady_clock::time_point::max();
    }
    if (stopping && running > 0 && std::chrono::steady_clock::now() >= kill_at) {
      stop_all(SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
  }
  if (exit_code != 0) {
    for (const auto& r : ranks) {
      const bool ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
      if (!ok)
        std::fprintf(stderr, "railcc-run: rank %d %s\n", r.index,
                     describe_status(r.status).c_str());
    }
  }
  return exit_code;
}
