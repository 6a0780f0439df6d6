// Built instead of the ucx transport when <ucp/api/ucp.h> was missing at build time:
// RAILCC_TRANSPORT=ucx is then an error saying why.
#include <fmt/format.h>

#include "transport/ucx/ucx_mesh.h"

namespace railcc::transport::ucx {

std::map<int, std::unique_ptr<Connection>> connect_ucx_peers(Store&, const UcxPeers& w,
                                                             const Config&, const Deadline&) {
  if (w.peers.empty()) return {};
  throw ConfigError(fmt::format(
      "rank {}: RAILCC_TRANSPORT=ucx, but this railcc was built without UCX support "
      "(libucx-dev was missing); rebuild after installing it, or unset RAILCC_TRANSPORT",
      w.rank));
}

}  // namespace railcc::transport::ucx
