// MPI_Allreduce (float32, MPI_SUM) benchmark printing the nccl-tests table; a peer of railcc's
// all_reduce_perf for bench/compare.sh. Flags: see peer_perf_common.h.
//
//   mpicxx -O2 -std=c++17 -o build/peers/mpi_allreduce_perf bench/peers/mpi_allreduce_perf.cc
//   mpirun --allow-run-as-root --oversubscribe --bind-to none -np 4
//       --mca pml ob1 --mca btl self,vader build/peers/mpi_allreduce_perf -b 8 -e 256M -f 2 -c 0
#define OMPI_SKIP_MPICXX 1  // C API only
#include <mpi.h>

#include "peer_perf_common.h"

namespace {

struct MpiBackend {
  int r = 0, n = 1;
  int rank() const { return r; }
  int size() const { return n; }
  void AllReduce(const float* send, float* recv, std::size_t count) {
    const void* in = send == recv ? MPI_IN_PLACE : static_cast<const void*>(send);
    MPI_Allreduce(in, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  void Barrier() { MPI_Barrier(MPI_COMM_WORLD); }
  double CombineTime(double s, int average) {
    double out = s;
    switch (average) {
      case 0:
        MPI_Bcast(&out, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        break;
      case 1:
        MPI_Allreduce(&s, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        out /= n;
        break;
      case 2:
        MPI_Allreduce(&s, &out, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
        break;
      default:
        MPI_Allreduce(&s, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        break;
    }
    return out;
  }
  long long SumOverRanks(long long v) {
    long long out = 0;
    MPI_Allreduce(&v, &out, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return out;
  }
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const peer::Args args = peer::ParseArgs(argc, argv);
  if (args.max_bytes / 4 > static_cast<std::size_t>(INT32_MAX))
    peer::UsageFail(argv[0], "-e too large for an int count");
  MpiBackend be;
  MPI_Comm_rank(MPI_COMM_WORLD, &be.r);
  MPI_Comm_size(MPI_COMM_WORLD, &be.n);
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(lib, &len);
  std::string libname(lib, len);
  if (const auto nl = libname.find_first_of("\n,"); nl != std::string::npos) libname.resize(nl);
  const std::string title = "MPI_Allreduce mpi_allreduce_perf (" + libname + ")";
  const int rc = peer::RunBenchmark(title.c_str(), args, be);
  MPI_Finalize();
  return rc;
}
