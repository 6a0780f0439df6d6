// Built instead of the verbs transport when <infiniband/verbs.h> was missing at build time:
// auto mode uses tcp between hosts, RAILCC_TRANSPORT=verbs is an error saying why.
#include <fmt/format.h>

#include "src/common/log.h"
#include "transport/verbs/verbs_mesh.h"

namespace railcc::transport::verbs {

std::vector<int> choose_verbs_peers(Store&, int rank, const std::vector<int>&, const Config& config,
                                    const Deadline&, std::shared_ptr<VerbsPorts>&) {
  if (config.transport == TransportKind::kVerbs) {
    throw ConfigError(fmt::format(
        "rank {}: RAILCC_TRANSPORT=verbs, but this railcc was built without RDMA support "
        "(libibverbs-dev was missing); rebuild after installing it, or unset RAILCC_TRANSPORT",
        rank));
  }
  return {};
}

std::map<int, std::unique_ptr<Connection>> connect_verbs_peers(Store&, int, uint64_t,
                                                               const std::vector<int>&,
                                                               const std::shared_ptr<VerbsPorts>&,
                                                               const Config&, const Deadline&) {
  return {};
}

// No RDMA: every send is copied anyway, so there is nothing to register.
void register_user_buffer(VerbsPorts*, uint64_t, const void*, std::size_t) {}
void deregister_user_buffer(VerbsPorts*, uint64_t) {}

}  // namespace railcc::transport::verbs
