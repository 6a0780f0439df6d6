// Host memory that the ranks of one host can share (like NCCL's ncclMemAlloc): buffers inside it,
// registered with Communicator::register_window, are read and written in place by the other ranks
// of the host, so a collective on them needs no copy through a ring and no kernel copy.
#pragma once

#include <cstddef>

namespace railcc {

// `bytes` of zeroed, page-aligned host memory any rank on this host can map (a memfd; nothing is
// left behind in /dev/shm if the process dies). Throws SystemError when the kernel refuses.
void* mem_alloc(std::size_t bytes);
// Frees memory from mem_alloc. Deregister windows inside it first. Null and unknown pointers are
// ignored.
void mem_free(void* ptr);

}  // namespace railcc
