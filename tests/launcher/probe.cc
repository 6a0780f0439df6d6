// A stand-in rank for the launcher tests: behaves as told by its first argument.
//   probe print            each rank prints two lines to stdout and one to stderr
//   probe die R CODE       rank R exits with CODE at once; the others sleep for a minute
//   probe sleep            every rank sleeps for a minute (to be interrupted)
//   probe env              prints its RAILCC_* launch variables
//   probe allreduce        joins the job and all_reduces its rank
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <railcc/railcc.hpp>
#include <string>

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "print";
  const char* rank_env = std::getenv("RAILCC_RANK");
  const int rank = rank_env ? std::atoi(rank_env) : -1;
  if (mode == "print") {
    std::printf("hello from rank %d\nsecond line %d\n", rank, rank);
    std::fflush(stdout);
    std::fprintf(stderr, "err line %d\n", rank);
    return 0;
  }
  if (mode == "die" && argc > 3) {
    if (rank == std::atoi(argv[2])) return std::atoi(argv[3]);
    sleep(60);
    return 0;
  }
  if (mode == "sleep") {
    sleep(60);
    return 0;
  }
  if (mode == "env") {
    std::printf("rank=%s size=%s local=%s store=%s\n", rank_env, std::getenv("RAILCC_WORLD_SIZE"),
                std::getenv("RAILCC_LOCAL_RANK"), std::getenv("RAILCC_STORE_ADDR"));
    return 0;
  }
  if (mode == "allreduce") {
    auto comm = railcc::Communicator::init();
    int v = comm->rank(), sum = 0;
    comm->all_reduce(&v, &sum, 1, railcc::DataType::kInt32, railcc::ReduceOp::kSum).wait();
    std::printf("sum=%d\n", sum);
    return sum == comm->size() * (comm->size() - 1) / 2 ? 0 : 1;
  }
  return 2;
}
