// libFuzzer target for the topology readers: any input must load, or fail with railcc::Error;
// anything else (a crash, a sanitizer report, another exception type) is a bug.
// Build: see tests/topology.cmake (RAILCC_BUILD_FUZZ=ON with clang).

#include <cstddef>
#include <cstdint>
#include <string>

#include "railcc/status.hpp"
#include "src/topology/machine_loader.h"
#include "src/topology/plan_json.h"
#include "src/topology/plan_text.h"
#include "src/topology/rail_plan.h"
#include "src/topology/rank_binding.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace topo = railcc::topology;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const topo::Machine machine = topo::load_machine_xml(text, "fuzz.xml");
    const topo::RailPlan plan = topo::build_rail_plan(machine);
    const std::vector<topo::RankBinding> ranks = {
        topo::bind_local_rank(machine, plan, 0, std::nullopt),
        topo::bind_local_rank(machine, plan, 3, std::string("1,0")),
    };
    topo::rail_plan_json(machine, plan, ranks);
    topo::rail_plan_text(machine, plan, ranks);
  } catch (const railcc::Error&) {
    // Rejected with a message: the expected outcome for most mutated inputs.
  }
  return 0;
}
