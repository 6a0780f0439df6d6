#include "src/topology/plan_text.h"

#include <fmt/format.h>

#include <algorithm>

namespace railcc::topology {
namespace {

using Row = std::vector<std::string>;

// Left-aligned columns, two spaces apart, with the header row first.
std::string table(const std::vector<Row>& rows) {
  std::vector<std::size_t> width;
  for (const Row& r : rows) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (const Row& r : rows) {
    std::string line = "  ";
    for (std::size_t c = 0; c < r.size(); ++c) {
      line += c + 1 == r.size() ? r[c] : fmt::format("{:<{}}  ", r[c], width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string numa_text(const Machine& m, int numa) {
  const int os = numa_os_index(m, numa);
  return os >= 0 ? std::to_string(os) : "-";
}

std::string join(const std::vector<std::string>& items, const char* sep = ",") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string speed_text(double gbps) { return gbps > 0 ? fmt::format("{:g} Gb/s", gbps) : "-"; }

std::string machine_text(const Machine& m) {
  std::string out =
      fmt::format("railcc topology of {} ({})\n", m.source, source_format_name(m.format));
  const std::string cores =
      m.cores.empty() ? "cores not listed" : fmt::format("{} cores", m.cores.size());
  out += fmt::format("CPUs: {} package(s){}, {} NUMA node(s), {}, {} hardware threads ({})\n",
                     m.packages.size(),
                     m.packages_stated ? ""
                                       : " (one per NCCL <cpu>: the file does not say "
                                         "which share a socket)",
                     m.numa_nodes.size(), cores, m.pu_count(), m.all_cpus().to_list());
  for (std::size_t i = 0; i < m.packages.size(); ++i) {
    const Package& p = m.packages[i];
    std::vector<std::string> numa;
    for (const NumaNode& n : m.numa_nodes) {
      if (n.package == static_cast<int>(i)) numa.push_back(std::to_string(n.os_index));
    }
    int cores_here = 0;
    for (const Core& c : m.cores) cores_here += c.package == static_cast<int>(i);
    out +=
        fmt::format("  package {}: NUMA {}, CPUs {}{}{}\n", i, numa.empty() ? "-" : join(numa),
                    p.cpus.to_list(), m.cores.empty() ? "" : fmt::format(", {} cores", cores_here),
                    p.cpu_model.empty() ? "" : ", " + p.cpu_model);
  }
  return out;
}

std::string gpu_text(const Machine& m, const RailPlan& plan) {
  if (plan.gpus.empty()) return "GPUs: none found; this is a CPU-only plan.\n";
  std::vector<Row> rows = {{"GPU", "PCI", "NUMA", "NIC(s)", "distance", "preferred", "link"}};
  for (std::size_t i = 0; i < plan.gpus.size(); ++i) {
    const GpuRail& g = plan.gpus[i];
    std::vector<std::string> names;
    for (int k : g.nics) names.push_back(plan.nics[k].name);
    const IoNode& io = m.io[g.gpu.io];
    rows.push_back(
        {std::to_string(i), g.gpu.pci.to_string(), numa_text(m, io.numa),
         names.empty() ? "(none)" : join(names), g.path ? path_level_short(g.path->level) : "-",
         g.preferred >= 0 ? plan.nics[g.preferred].name : "-", io.link.empty() ? "-" : io.link});
  }
  return fmt::format("GPUs: {}\n", plan.gpus.size()) + table(rows);
}

std::string nic_rows(const Machine& m, const std::vector<Nic>& nics) {
  std::vector<Row> rows = {{"NIC", "PCI", "NUMA", "speed", "RDMA", "PCIe link", "OS names"}};
  for (const Nic& n : nics) {
    const IoNode& io = m.io[n.io];
    rows.push_back({n.name, n.pci ? n.pci->to_string() : "-", numa_text(m, io.numa),
                    speed_text(n.speed_gbps), n.rdma ? "yes" : "no",
                    io.link.empty() ? "-" : io.link, join(n.aliases)});
  }
  return table(rows);
}

std::string nic_text(const Machine& m, const RailPlan& plan) {
  std::string out;
  if (plan.nics.empty()) {
    out = "NICs: none found (no network or InfiniBand PCI device).\n";
  } else {
    const bool rdma = plan.nics.front().rdma;
    out = fmt::format("NICs: {} ({})\n", plan.nics.size(),
                      rdma ? "RDMA" : "no RDMA NIC found; plain network devices");
    out += nic_rows(m, plan.nics);
  }
  if (!plan.ignored_nics.empty()) {
    out += fmt::format("Ignored: {} plain NIC(s), because RDMA NICs exist\n",
                       plan.ignored_nics.size());
    out += nic_rows(m, plan.ignored_nics);
  }
  return out;
}

std::string rank_text(const Machine& m, const RailPlan& plan,
                      const std::vector<RankBinding>& ranks) {
  if (ranks.empty()) return "";
  std::vector<Row> rows = {{"local rank", "GPU", "NIC", "progress-thread CPUs", "cores"}};
  for (const RankBinding& b : ranks) {
    rows.push_back(
        {std::to_string(b.local_rank),
         b.gpu >= 0 ? fmt::format("{} ({})", b.gpu, plan.gpus[b.gpu].gpu.pci.to_string()) : "none",
         b.nic >= 0 ? plan.nics[b.nic].name : "none", b.cpus.to_list(),
         m.cores.empty() ? "-" : std::to_string(b.cores.size())});
  }
  return "Local ranks:\n" + table(rows);
}

}  // namespace

std::string rail_plan_text(const Machine& machine, const RailPlan& plan,
                           const std::vector<RankBinding>& ranks) {
  return machine_text(machine) + gpu_text(machine, plan) + nic_text(machine, plan) +
         rank_text(machine, plan, ranks);
}

}  // namespace railcc::topology
