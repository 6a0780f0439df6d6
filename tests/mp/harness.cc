#include "tests/mp/harness.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>

#include "railcc/status.hpp"
#include "railcc/store.hpp"

namespace railcc::test {
namespace {

using Clock = std::chrono::steady_clock;

void clear_launch_env() {
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                        "MASTER_PORT", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                        "SLURM_PROCID", "SLURM_NTASKS", "PMI_RANK", "PMI_SIZE"}) {
    unsetenv(v);
  }
}

// Forks a process that hosts the store (requiring `job_key` when not empty); returns its pid and
// "127.0.0.1:port".
std::pair<pid_t, std::string> start_store_process(const std::string& job_key) {
  int p[2];
  if (pipe(p) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    int port = -1;
    std::unique_ptr<StoreServer> server;
    try {
      server = start_store_server("127.0.0.1", 0, job_key);
      port = server->port();
    } catch (...) {
    }
    if (write(p[1], &port, sizeof(port)) != sizeof(port)) _exit(1);
    close(p[1]);
    // Serve until the harness kills us (or the parent dies).
    while (getppid() != 1) pause();
    _exit(0);
  }
  close(p[1]);
  int port = -1;
  if (read(p[0], &port, sizeof(port)) != sizeof(port) || port <= 0) {
    close(p[0]);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    throw std::runtime_error("could not start the store process");
  }
  close(p[0]);
  return {pid, "127.0.0.1:" + std::to_string(port)};
}

}  // namespace

std::vector<RankOutcome> run_job(int world, const std::function<void(int)>& fn,
                                 const JobOptions& options) {
  // Like railcc-run: the store knows the job key the ranks are given.
  const auto key = options.env.find("RAILCC_JOB_KEY");
  auto [store_pid, store_addr] =
      start_store_process(key == options.env.end() ? std::string() : key->second);
  struct Child {
    pid_t pid;
    int err_fd;   // the child's stderr
    int note_fd;  // the child's exception text
    Clock::time_point start;
  };
  std::vector<Child> children(world);
  std::vector<RankOutcome> out(world);
  for (int r = 0; r < world; ++r) {
    int err[2], note[2];
    if (pipe2(err, O_CLOEXEC) != 0 || pipe2(note, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    const pid_t pid = fork();
    if (pid == 0) {
      close(err[0]);
      close(note[0]);
      dup2(err[1], STDERR_FILENO);
      clear_launch_env();
      for (const auto& [k, v] : options.env) setenv(k.c_str(), v.c_str(), 1);
      setenv("RAILCC_RANK", std::to_string(r).c_str(), 1);
      setenv("RAILCC_WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("RAILCC_LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("RAILCC_LOCAL_WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("RAILCC_STORE_ADDR", store_addr.c_str(), 1);
      // Failing on purpose is what many of these tests do, and each failure dumps the flight
      // recorder: into one directory per user (rewritten per rank and communicator), not one per
      // job under /tmp.
      setenv("RAILCC_FLIGHT_DIR", fmt::format("/tmp/railcc-mp-flight-{}", ::getuid()).c_str(), 0);
      // For tests that kill the store on purpose (tests/faults).
      setenv("RAILCC_TEST_STORE_PID", std::to_string(store_pid).c_str(), 1);
      std::string note_text;
      int code = 0;
      try {
        fn(r);
      } catch (const std::exception& e) {
        note_text = e.what();
        code = 1;
      } catch (...) {
        note_text = "unknown exception";
        code = 1;
      }
      if (!note_text.empty()) {
        ssize_t unused = write(note[1], note_text.data(), note_text.size());
        (void)unused;
      }
      _exit(code);  // skip gtest's and static destructors of the parent's state
    }
    close(err[1]);
    close(note[1]);
    children[r] = {pid, err[0], note[0], Clock::now()};
  }
  const auto deadline = Clock::now() + options.limit;
  int running = world;
  std::vector<bool> done(world, false);
  while (running > 0) {
    std::vector<pollfd> fds;
    std::vector<std::pair<int, bool>> owners;
    for (int r = 0; r < world; ++r) {
      if (children[r].err_fd >= 0)
        fds.push_back({children[r].err_fd, POLLIN, 0}), owners.push_back({r, false});
      if (children[r].note_fd >= 0)
        fds.push_back({children[r].note_fd, POLLIN, 0}), owners.push_back({r, true});
    }
    if (!fds.empty())
      poll(fds.data(), fds.size(), 20);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto [r, is_note] = owners[i];
      char buf[8192];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (is_note ? out[r].error : out[r].stderr_text).append(buf, n);
      } else {
        close(fds[i].fd);
        (is_note ? children[r].note_fd : children[r].err_fd) = -1;
      }
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (int r = 0; r < world; ++r) {
        if (children[r].pid != pid || done[r]) continue;
        done[r] = true;
        --running;
        out[r].seconds = std::chrono::duration<double>(Clock::now() - children[r].start).count();
        if (WIFEXITED(status)) out[r].exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) out[r].signal = WTERMSIG(status);
      }
    }
    if (Clock::now() > deadline) {
      for (int r = 0; r < world; ++r) {
        if (!done[r]) {
          kill(children[r].pid, SIGKILL);
          out[r].killed_by_harness = true;
        }
      }
    }
  }
  // Drain what is left in the pipes.
  for (int r = 0; r < world; ++r) {
    for (int* fd : {&children[r].err_fd, &children[r].note_fd}) {
      if (*fd < 0) continue;
      char buf[8192];
      ssize_t n;
      while ((n = read(*fd, buf, sizeof(buf))) > 0) {
        (fd == &children[r].note_fd ? out[r].error : out[r].stderr_text).append(buf, n);
      }
      close(*fd);
    }
  }
  kill(store_pid, SIGKILL);
  waitpid(store_pid, nullptr, 0);
  return out;
}

std::string summary(const std::vector<RankOutcome>& outcomes) {
  std::string s;
  for (std::size_t r = 0; r < outcomes.size(); ++r) {
    const auto& o = outcomes[r];
    s += fmt::format("rank {}: exit {} signal {}{} after {:.2f}s\n  error: {}\n  stderr: {}\n", r,
                     o.exit_code, o.signal, o.killed_by_harness ? " (killed: hung)" : "", o.seconds,
                     o.error, o.stderr_text.substr(0, 2000));
  }
  return s;
}

}  // namespace railcc::test
