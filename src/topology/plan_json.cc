#include "src/topology/plan_json.h"

#include <nlohmann/json.hpp>

namespace railcc::topology {
namespace {

// ordered_json keeps keys in the order written, which reads better than sorted.
using json = nlohmann::ordered_json;

json numa_json(const Machine& m, int numa) {
  const int os = numa_os_index(m, numa);
  return os >= 0 ? json(os) : json(nullptr);
}

json nic_json(const Machine& m, const Nic& nic) {
  const IoNode& io = m.io[nic.io];
  return {
      {"name", nic.name},
      {"pci", nic.pci ? json(nic.pci->to_string()) : json(nullptr)},
      {"numa", numa_json(m, io.numa)},
      {"speed_gbps", nic.speed_gbps > 0 ? json(nic.speed_gbps) : json(nullptr)},
      {"rdma", nic.rdma},
      {"aliases", nic.aliases},
      {"link", io.link.empty() ? json(nullptr) : json(io.link)},
      {"cpus", io.cpus.to_list()},
  };
}

json machine_json(const Machine& m) {
  json packages = json::array(), numa = json::array();
  for (const Package& p : m.packages) {
    packages.push_back(
        {{"os_index", p.os_index}, {"cpus", p.cpus.to_list()}, {"cpu_model", p.cpu_model}});
  }
  for (const NumaNode& n : m.numa_nodes) {
    numa.push_back({{"os_index", n.os_index},
                    {"package", n.package >= 0 ? json(n.package) : json(nullptr)},
                    {"cpus", n.cpus.to_list()},
                    {"memory_bytes", n.memory_bytes ? json(n.memory_bytes) : json(nullptr)}});
  }
  return {{"packages", packages},
          {"packages_stated", m.packages_stated},
          {"numa_nodes", numa},
          {"cores", m.cores.empty() ? json(nullptr) : json(m.cores.size())},
          {"cpus", m.all_cpus().to_list()},
          {"cpu_count", m.pu_count()}};
}

}  // namespace

std::string rail_plan_json(const Machine& machine, const RailPlan& plan,
                           const std::vector<RankBinding>& ranks, int indent) {
  json gpus = json::array(), nics = json::array(), ignored = json::array(), bound = json::array();
  for (std::size_t i = 0; i < plan.gpus.size(); ++i) {
    const GpuRail& g = plan.gpus[i];
    const IoNode& io = machine.io[g.gpu.io];
    json names = json::array(), pcis = json::array();
    for (int k : g.nics) {
      names.push_back(plan.nics[k].name);
      pcis.push_back(plan.nics[k].pci ? json(plan.nics[k].pci->to_string()) : json(nullptr));
    }
    gpus.push_back({
        {"index", i},
        {"pci", g.gpu.pci.to_string()},
        {"numa", numa_json(machine, io.numa)},
        {"nics", names},
        {"nic_pci", pcis},
        {"preferred", g.preferred >= 0 ? json(plan.nics[g.preferred].name) : json(nullptr)},
        {"level", g.path ? json(path_level_name(g.path->level)) : json(nullptr)},
        {"hops", g.path ? json(g.path->hops) : json(nullptr)},
        {"cpus", g.cpus.to_list()},
        {"uuid", g.gpu.uuid.empty() ? json(nullptr) : json(g.gpu.uuid)},
        {"link", io.link.empty() ? json(nullptr) : json(io.link)},
    });
  }
  for (const Nic& n : plan.nics) nics.push_back(nic_json(machine, n));
  for (const Nic& n : plan.ignored_nics) ignored.push_back(nic_json(machine, n));
  for (const RankBinding& b : ranks) {
    bound.push_back({
        {"local_rank", b.local_rank},
        {"gpu", b.gpu >= 0 ? json(b.gpu) : json(nullptr)},
        {"nic", b.nic >= 0 ? json(plan.nics[b.nic].name) : json(nullptr)},
        {"cpus", b.cpus.to_list()},
        {"cores", b.cores.size()},
    });
  }
  const json out = {
      {"source", machine.source},
      {"format", source_format_name(machine.format)},
      {"machine", machine_json(machine)},
      {"gpus", gpus},
      {"nics", nics},
      {"ignored_nics", ignored},
      {"ranks", bound},
  };
  return out.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace railcc::topology
