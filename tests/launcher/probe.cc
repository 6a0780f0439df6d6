// A stand-in rank for the launcher tests: behaves as told by its first argument.
//   probe print            each rank prints two lines to stdout and one to stderr
//   probe die R CODE       rank R exits with CODE at once; the others sleep for a minute
//   probe sleep            every rank sleeps for a minute (to be interrupted)
//   probe env              prints its RAILCC_* launch variables
//   probe allreduce        joins the job and all_reduces its rank
//   probe key              prints its RAILCC_JOB_KEY
//   probe stranger         rank 0 tries the store without the key, then as allreduce
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <railcc/railcc.hpp>
#include <string>

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "print";
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
  if (mode == "key") {
    std::printf("key=%s\n", std::getenv("RAILCC_JOB_KEY") ? std::getenv("RAILCC_JOB_KEY") : "");
    return 0;
  }
  if (mode == "stranger") {
    // Rank 0 first tries the store as a stranger would: the address, no key.
    if (rank == 0) {
      try {
        railcc::connect_tcp_store(std::getenv("RAILCC_STORE_ADDR"), std::chrono::seconds(5))
            ->check("anything");
        std::printf("stranger served\n");
      } catch (const railcc::Error& e) {
        std::printf("stranger refused: %s\n", railcc::error_code_name(e.code()));
      }
      std::fflush(stdout);
    }
    mode = "allreduce";
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
