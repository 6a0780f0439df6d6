// Copies that bypass the cache.
#pragma once

#include <cstddef>

namespace railcc::kernels {

// dst[0, n) = src[0, n) with non-temporal stores where the CPU has them (x86 SSE2; elsewhere a
// plain memcpy): for data nobody reads again soon, so the stores neither read the destination's
// lines first nor push live data out of the cache. No overlap.
void copy_streaming(void* dst, const void* src, std::size_t n);

}  // namespace railcc::kernels
