// railcc-report --plot: the drawing is matplotlib's (Debian's python3-matplotlib), so this runs
// railcc_plot.py, installed next to railcc's data (or found in the source tree of a build).
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "src/tools/report/report.h"

namespace railcc::report {

int plot(const std::string& dir, const std::string& png, const std::string& script) {
  std::string path = script;
  if (path.empty()) {
    for (const char* candidate : {RAILCC_PLOT_SCRIPT_INSTALLED, RAILCC_PLOT_SCRIPT_SOURCE}) {
      if (std::filesystem::exists(candidate)) {
        path = candidate;
        break;
      }
    }
  }
  if (path.empty()) {
    std::cerr << fmt::format(
        "railcc-report: railcc_plot.py not found at {} or {} (use "
        "--plot-script)\n",
        RAILCC_PLOT_SCRIPT_INSTALLED, RAILCC_PLOT_SCRIPT_SOURCE);
    return 2;
  }
  // Debian's python3, where python3-matplotlib lives, before whatever python3 is on PATH.
  const std::string python =
      std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::vector<std::string> args = {python, path, dir, png};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("railcc-report: fork");
    return 2;
  }
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    std::perror("railcc-report: cannot run python3");
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

}  // namespace railcc::report
