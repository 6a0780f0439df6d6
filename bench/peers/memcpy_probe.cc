// Single-thread memcpy bandwidth probe for bench/compare.sh.
//   memcpy_probe [MiB=64] [runs=10]
// Copies one MiB-sized buffer into another (both page aligned and faulted in beforehand) `runs`
// times and prints the best run: GB/s = bytes copied / seconds (1 GB = 1e9 B; reads and writes
// are not added up, so this is the same "bytes per second" a busbw figure means).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 64;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 10;
  if (mib == 0 || runs <= 0) {
    std::fprintf(stderr, "usage: %s [MiB>0] [runs>0]\n", argv[0]);
    return 2;
  }
  const std::size_t bytes = mib << 20;
  char* src = static_cast<char*>(std::aligned_alloc(4096, bytes));
  char* dst = static_cast<char*>(std::aligned_alloc(4096, bytes));
  if (!src || !dst) {
    std::fprintf(stderr, "memcpy_probe: cannot allocate 2 x %zu MiB\n", mib);
    return 1;
  }
  for (std::size_t i = 0; i < bytes; ++i) src[i] = static_cast<char>(i * 7);
  std::memset(dst, 0, bytes);
  std::memcpy(dst, src, bytes);  // warm-up
  double best = 1e30, total = 0;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst, src, bytes);
    asm volatile("" : : "r"(dst) : "memory");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  if (std::memcmp(dst, src, bytes) != 0) {
    std::fprintf(stderr, "memcpy_probe: copy mismatch\n");
    return 1;
  }
  std::printf("# memcpy_probe: single thread, %zu MiB buffers, best of %d runs\n", mib, runs);
  std::printf("memcpy_GBps %.2f\nmemcpy_mean_GBps %.2f\n", bytes / 1e9 / best,
              bytes / 1e9 / (total / runs));
  std::free(src);
  std::free(dst);
  return 0;
}
