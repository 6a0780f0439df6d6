// CRC32C (Castagnoli), the checksum of RAILCC_CHECKSUM: the same polynomial iSCSI, ext4 and
// RDMA's iCRC family use, computed with the SSE4.2 crc32 instruction where the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace railcc {

// Extends `crc` (0 for a fresh checksum) over n bytes; crc32c(a+b) == crc32c_extend(crc32c(a), b).
uint32_t crc32c_extend(uint32_t crc, const void* data, std::size_t n);
inline uint32_t crc32c(const void* data, std::size_t n) { return crc32c_extend(0, data, n); }

}  // namespace railcc
