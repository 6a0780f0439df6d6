#include "railcc/memory.hpp"

#include "transport/shm/shared_memory.h"

namespace railcc {

void* mem_alloc(std::size_t bytes) { return transport::shared_alloc(bytes); }

void mem_free(void* ptr) { transport::shared_free(ptr); }

}  // namespace railcc
