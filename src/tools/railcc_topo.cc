// railcc-topo: prints what railcc knows about this host (or a topology file): sockets, NUMA
// nodes and cores, every GPU with its nearest NIC(s), every NIC, and which GPU, NIC and CPUs
// each local rank would use.
//
//   railcc-topo [--topo-file FILE] [--json] [--ranks N]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "railcc/config.hpp"
#include "railcc/status.hpp"
#include "src/topology/machine_loader.h"
#include "src/topology/plan_json.h"
#include "src/topology/plan_text.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"
#include "src/topology/visible_gpus.h"

namespace topo = railcc::topology;

int main(int argc, char** argv) {
  CLI::App app{"railcc-topo: GPU to NIC rail plan of this machine or of a topology file",
               "railcc-topo [--topo-file FILE] [--json] [--ranks N]"};
  std::string topo_file;
  bool json = false;
  int ranks = 0;
  app.add_option("--topo-file", topo_file,
                 "hwloc XML (v1/v2) or NCCL topology file; default RAILCC_TOPO_FILE, else this "
                 "machine");
  app.add_flag("--json", json, "print JSON instead of tables");
  app.add_option("--ranks", ranks,
                 "local ranks to show bindings for; default: LOCAL_WORLD_SIZE, else one per "
                 "visible GPU, else 1")
      ->check(CLI::Range(1, 4096));
  CLI11_PARSE(app, argc, argv);

  try {
    const railcc::Config config = railcc::Config::from_env();
    if (topo_file.empty()) topo_file = config.topo_file;
    const topo::Machine machine =
        topo_file.empty() ? topo::discover_machine() : topo::load_machine_file(topo_file);
    const topo::RailPlan plan = topo::build_rail_plan(machine);
    if (ranks == 0) ranks = config.launch.local_world_size;
    if (ranks <= 0) {
      const auto visible = topo::visible_gpus(plan, config.cuda_visible_devices);
      ranks = std::max<int>(1, static_cast<int>(visible.size()));
    }
    std::vector<topo::RankBinding> bindings;
    for (int r = 0; r < ranks; ++r) {
      bindings.push_back(topo::bind_local_rank(machine, plan, r, config.cuda_visible_devices));
    }
    const std::string out = json ? topo::rail_plan_json(machine, plan, bindings) + "\n"
                                 : topo::rail_plan_text(machine, plan, bindings);
    std::fputs(out.c_str(), stdout);
    return 0;
  } catch (const railcc::Error& e) {
    std::fprintf(stderr, "railcc-topo: %s\n", e.what());
    return 1;
  }
}
