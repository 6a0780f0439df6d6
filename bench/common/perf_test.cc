#include "bench/common/perf_test.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_args.h"
#include "bench/common/perf_report.h"
#include "railcc/config.hpp"
#include "railcc/memory.hpp"
#include "railcc/status.hpp"
#include "railcc/version.hpp"
#include "src/cuda/device_api.h"

namespace railcc::bench {

void* DataArgs::input() const {
  if (!in_place) return send_buffer;
  return static_cast<std::byte*>(recv_buffer) +
         sizes.send_inplace_offset * static_cast<std::size_t>(rank) * element_size();
}

void* DataArgs::expected_at(std::size_t index) const {
  return static_cast<std::byte*>(expected) + index * element_size();
}

bool Collective::ChecksOutput(int /*rank*/, int /*root*/) const { return true; }

std::size_t PerRankCount(std::size_t count, std::size_t element_size, int nranks) {
  const std::size_t align = std::max<std::size_t>(16 / element_size, 1);
  return (count / static_cast<std::size_t>(nranks)) & ~(align - 1);
}

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

// Bytes each rank contributes to the "# Using devices" gather.
constexpr std::size_t kDeviceInfoBytes = 1024;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A zero-filled, page-aligned allocation (the zero fill also faults the pages in); `shared`: from
// railcc::mem_alloc, so it can be registered as a window.
class Buffer {
 public:
  explicit Buffer(std::size_t bytes, bool shared = false) : shared_(shared) {
    constexpr std::size_t kPage = 4096;
    bytes_ = std::max<std::size_t>((bytes + kPage - 1) / kPage * kPage, kPage);
    data_ = static_cast<std::byte*>(shared ? mem_alloc(bytes_) : std::aligned_alloc(kPage, bytes_));
    if (!data_) {
      throw std::runtime_error(
          fmt::format("cannot allocate {} bytes for a buffer (lower --maxbytes)", bytes_));
    }
    std::memset(data_, 0, bytes_);
  }
  ~Buffer() {
    if (shared_) {
      mem_free(data_);
    } else {
      std::free(data_);
    }
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  std::byte* get() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  bool shared_;
  std::size_t bytes_ = 0;
  std::byte* data_ = nullptr;
};

// The next benchmarked size after `size`, or nullopt past `max`. A size of 0 is followed by 1 so
// that geometric steps can start at 0.
std::optional<std::size_t> NextSize(std::size_t size, std::size_t factor, std::size_t step,
                                    std::size_t max) {
  std::size_t next;
  if (factor > 1) {
    if (size == 0) {
      next = 1;
    } else if (size > max / factor) {
      return std::nullopt;
    } else {
      next = size * factor;
    }
  } else {
    if (step == 0 || size > max - step) return std::nullopt;
    next = size + step;
  }
  if (next > max) return std::nullopt;
  return next;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "cpu";
}

// Rank of this process from the launch environment, before the communicator exists; -1 when not
// launched (or the environment is bad, which init() reports later).
int LaunchRank() {
  try {
    return Config::from_env().launch.rank;
  } catch (...) {
    return -1;
  }
}

std::string ProgramName(const char* argv0) {
  std::string_view name = argv0 ? argv0 : "perf";
  const std::size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  return std::string(name);
}

struct TestCase {
  DataType type;
  ReduceOp op;                      // passed to the call
  std::optional<ReduceOp> data_op;  // what the data is reduced with (nullopt: no reduction)
  std::string op_name;
  int root;
};

class Runner {
 public:
  Runner(Communicator& comm, const Collective& coll, const Options& opts, std::string program)
      : comm_(comm),
        coll_(coll),
        opts_(opts),
        program_(std::move(program)),
        rank_(comm.rank()),
        nranks_(comm.size()),
        send_(opts.max_bytes, Registered()),
        recv_(opts.max_bytes, Registered()) {
    if (opts_.check > 0) expected_ = std::make_unique<Buffer>(opts.max_bytes);
    if (opts_.cuda) OpenDevice();
    if (Registered()) {
      windows_ = {comm_.register_window(send_.get(), send_.bytes()),
                  comm_.register_window(recv_.get(), recv_.bytes())};
    }
  }
  ~Runner() {
    CloseDevice();
    // Collective: only when every rank gets here alike (not while an error unwinds one).
    if (std::uncaught_exceptions() == 0) {
      for (uint64_t w : windows_) comm_.deregister_window(w);
    }
  }

  int Run();

 private:
  void Print(std::string_view text) const {
    if (rank_ == 0) std::fwrite(text.data(), 1, text.size(), stdout);
  }
  void Barrier() { comm_.barrier().wait(); }
  // GPU buffers: until the results are in GPU memory (the stream passed the op), as nccl-tests
  // synchronizes its streams.
  void WaitAll(const std::vector<Work>& works, std::size_t first = 0) const {
    for (std::size_t i = first; i < works.size(); ++i) {
      if (opts_.cuda) {
        works[i].synchronize();
      } else {
        works[i].wait();
      }
    }
  }
  // --device cuda: GPU buffers and streams; the host buffers then hold inputs and results.
  void OpenDevice();
  void CloseDevice();
  void Upload(std::size_t send_bytes, std::size_t recv_bytes);
  void Download(std::size_t offset, std::size_t bytes);

  void OpenJson();
  json PrintHeader();
  void TimeTest(const TestCase& tc);
  Measurement BenchTime(const TestCase& tc, const Sizes& sizes, bool in_place);
  void Start(const TestCase& tc, const Sizes& sizes, bool in_place, std::vector<Work>* works);
  void InitData(const TestCase& tc, const Sizes& sizes, bool in_place, int seed);
  int64_t CountLocalWrong(const TestCase& tc, const Sizes& sizes, bool in_place);
  Sizes SizesFor(std::size_t bytes, DataType type) const {
    const std::size_t element = data_type_size(type);
    return coll_.GetSizes(bytes / element, element, nranks_);
  }
  double ReduceTime(double seconds);
  int64_t SumOverRanks(int64_t value);

  // -R: the host buffers are windows (GPU buffers are not).
  bool Registered() const { return opts_.local_register > 0 && !opts_.cuda; }

  Communicator& comm_;
  const Collective& coll_;
  const Options& opts_;
  const std::string program_;
  const int rank_;
  const int nranks_;
  Buffer send_;
  Buffer recv_;
  std::unique_ptr<Buffer> expected_;
  std::vector<uint64_t> windows_;  // -R: send_'s and recv_'s window handles
  int seed_ = 0;                   // bumped before every checked run, so stale data never matches
  int64_t local_errors_ = 0;
  double busbw_sum_ = 0;
  int64_t busbw_count_ = 0;
  std::ofstream json_file_;
  std::unique_ptr<JsonReport> json_;
  cuda::DeviceApi* api_ = nullptr;
  int gpu_ = -1;
  std::byte* dsend_ = nullptr;
  std::byte* drecv_ = nullptr;
  cuda::StreamHandle stream_ = nullptr;
  cuda::StreamHandle stream2_ = nullptr;
};

void Runner::OpenDevice() {
  api_ = cuda::device_api();
  if (!api_) {
    throw UsageError(fmt::format("--device cuda: no GPU to use: {}", cuda::no_device_reason()));
  }
  const int local_rank = comm_.config().launch.local_rank;
  const int gpus = api_->device_count();
  if (gpus <= 0) throw UsageError("--device cuda: no GPU to use");
  gpu_ = (local_rank >= 0 ? local_rank : rank_) % gpus;
  api_->set_device(gpu_);
  const std::size_t bytes = std::max<std::size_t>(opts_.max_bytes, 1);
  dsend_ = static_cast<std::byte*>(api_->alloc_device(bytes));
  drecv_ = static_cast<std::byte*>(api_->alloc_device(bytes));
  stream_ = api_->create_stream();
  stream2_ = api_->create_stream();
}

void Runner::CloseDevice() {
  if (!api_) return;
  try {
    api_->synchronize(stream_);
    api_->synchronize(stream2_);
    api_->destroy_stream(stream_);
    api_->destroy_stream(stream2_);
    api_->free_device(dsend_);
    api_->free_device(drecv_);
  } catch (const std::exception&) {
    // Exiting anyway.
  }
}

void Runner::Upload(std::size_t send_bytes, std::size_t recv_bytes) {
  if (!api_) return;
  api_->copy(dsend_, send_.get(), send_bytes);
  api_->copy(drecv_, recv_.get(), recv_bytes);
}

void Runner::Download(std::size_t offset, std::size_t bytes) {
  if (api_) api_->copy(recv_.get() + offset, drecv_ + offset, bytes);
}

void Runner::OpenJson() {
  if (opts_.json_path.empty()) return;
  uint8_t failed = 0;
  std::string error;
  if (rank_ == 0) {
    json_file_.open(opts_.json_path, std::ios::out | std::ios::trunc);
    if (!json_file_) {
      failed = 1;
      error = std::strerror(errno);
    }
  }
  uint8_t failed_on_root = failed;
  comm_.broadcast(&failed, &failed_on_root, 1, DataType::kUint8, 0).wait();
  if (failed_on_root) {
    throw UsageError(fmt::format("cannot write --json file '{}': {}", opts_.json_path, error));
  }
}

json Runner::PrintHeader() {
  Print(fmt::format("# railcc {} {}: {} ranks\n", version_string(), program_, nranks_));
  Print(fmt::format("# Collective test starting: {}{}\n", program_,
                    opts_.cuda ? " (buffers in GPU memory)" : ""));
  const bool factor = opts_.step_factor > 1;
  Print(fmt::format(
      "# nThread 1 nGpus 1 minBytes {} maxBytes {} step: {}({}) warmup iters: {} iters: {} agg "
      "iters: {} validation: {} graph: 0\n",
      opts_.min_bytes, opts_.max_bytes, factor ? opts_.step_factor : opts_.step_bytes,
      factor ? "factor" : "bytes", opts_.warmup_iters, opts_.iters, opts_.agg_iters, opts_.check));
  switch (opts_.blocking) {
    case 1:
      Print("# Blocking Enabled: wait and barrier after each call\n");
      break;
    case 2:
      Print("# Blocking Enabled: wait after each call, no barrier\n");
      break;
    case 3:
      Print(
          "# Blocking Enabled: wait and barrier after each iteration (-n); time excludes "
          "barrier\n");
      break;
    default:
      break;
  }
  Print("#\n# Using devices\n");

  // Every rank describes itself; rank 0 prints the lines in rank order.
  const int local_rank = comm_.config().launch.local_rank;
  json self = {{"rank", rank_},
               {"group", 0},
               {"pid", static_cast<int64_t>(getpid())},
               {"host", HostName()},
               {"device", gpu_ >= 0 ? gpu_ : (local_rank >= 0 ? local_rank : rank_)},
               {"kind", api_ ? "cuda" : "cpu"},
               {"name", api_ ? api_->device_uuid(gpu_) : CpuModel()}};
  std::string text = self.dump();
  if (text.size() >= kDeviceInfoBytes) {
    self["name"] = "cpu";
    self["host"] = self["host"].get<std::string>().substr(0, 200);
    text = self.dump();
  }
  std::vector<char> mine(kDeviceInfoBytes, '\0');
  std::copy(text.begin(), text.end(), mine.begin());
  std::vector<char> all(kDeviceInfoBytes * static_cast<std::size_t>(nranks_), '\0');
  comm_.all_gather(mine.data(), all.data(), kDeviceInfoBytes, DataType::kUint8).wait();

  json devices = json::array();
  for (int r = 0; r < nranks_ && rank_ == 0; ++r) {
    const char* entry = all.data() + kDeviceInfoBytes * static_cast<std::size_t>(r);
    json d = json::parse(std::string(entry, strnlen(entry, kDeviceInfoBytes)), nullptr, false);
    if (d.is_discarded() || !d.is_object()) {
      Print(fmt::format("#  Rank {:>2} (device information garbled in all_gather)\n", r));
      devices.push_back({{"rank", r}});
      continue;
    }
    Print(fmt::format("#  Rank {:>2} Group {:>2} Pid {:>6} on {:>10} device {:>2} [{}] {}\n",
                      d.value("rank", -1), d.value("group", 0), d.value("pid", int64_t{-1}),
                      d.value("host", std::string("?")), d.value("device", -1),
                      d.value("kind", std::string("cpu")), d.value("name", std::string("cpu"))));
    devices.push_back(std::move(d));
  }
  Print("#\n");
  Print(TableHeader(opts_.report_cputime));

  json config = {{"minbytes", opts_.min_bytes},
                 {"maxbytes", opts_.max_bytes},
                 {"stepbytes", opts_.step_bytes},
                 {"stepfactor", opts_.step_factor},
                 {"iters", opts_.iters},
                 {"warmup_iters", opts_.warmup_iters},
                 {"agg_iters", opts_.agg_iters},
                 {"run_cycles", opts_.run_cycles},
                 {"check", opts_.check},
                 {"blocking", opts_.blocking},
                 {"average", opts_.average},
                 {"report_cputime", opts_.report_cputime},
                 {"datatype", opts_.datatype_arg},
                 {"op", opts_.op_arg},
                 {"device", opts_.cuda ? "cuda" : "host"},
                 {"root", opts_.root}};
  return {
      {"benchmark", program_}, {"collective", coll_.name()},  {"railcc_version", version_string()},
      {"nranks", nranks_},     {"config", std::move(config)}, {"devices", std::move(devices)}};
}

void Runner::Start(const TestCase& tc, const Sizes& sizes, bool in_place,
                   std::vector<Work>* works) {
  const std::size_t element = data_type_size(tc.type);
  const std::size_t rank = static_cast<std::size_t>(rank_);
  std::byte* recv_base = api_ ? drecv_ : recv_.get();
  std::byte* send_base = api_ ? dsend_ : send_.get();
  std::byte* recv = recv_base + (in_place ? sizes.recv_inplace_offset * rank * element : 0);
  const std::byte* send =
      in_place ? recv_base + sizes.send_inplace_offset * rank * element : send_base;
  CallArgs args{send, recv, sizes.param_count, tc.type, tc.op, tc.root, std::nullopt, std::nullopt};
  if (api_) {
    args.stream = CudaStream{stream_};
    args.stream2 = CudaStream{stream2_};
  }
  coll_.Run(comm_, args, works);
}

void Runner::InitData(const TestCase& tc, const Sizes& sizes, bool in_place, int seed) {
  const std::size_t element = data_type_size(tc.type);
  std::memset(recv_.get(), 0, std::max(sizes.send_count, sizes.recv_count) * element);
  coll_.InitData(DataArgs{tc.type, tc.data_op, tc.root, rank_, nranks_, seed, in_place, sizes,
                          send_.get(), recv_.get(), expected_->get()});
  Upload(sizes.send_count * element, std::max(sizes.send_count, sizes.recv_count) * element);
}

int64_t Runner::CountLocalWrong(const TestCase& tc, const Sizes& sizes, bool in_place) {
  if (!coll_.ChecksOutput(rank_, tc.root)) return 0;
  const std::size_t element = data_type_size(tc.type);
  const std::size_t offset =
      in_place ? sizes.recv_inplace_offset * static_cast<std::size_t>(rank_) * element : 0;
  Download(offset, sizes.recv_count * element);  // GPU results back to the host buffer
  const std::byte* out = recv_.get() + offset;
  return CountWrong(out, expected_->get(), sizes.recv_count, tc.type, tc.data_op, nranks_);
}

double Runner::ReduceTime(double seconds) {
  double out = seconds;
  switch (opts_.average) {
    case 0:
      comm_.broadcast(&seconds, &out, 1, DataType::kFloat64, 0).wait();
      break;
    case 1:
      comm_.all_reduce(&seconds, &out, 1, DataType::kFloat64, ReduceOp::kSum).wait();
      out /= nranks_;
      break;
    case 2:
      comm_.all_reduce(&seconds, &out, 1, DataType::kFloat64, ReduceOp::kMin).wait();
      break;
    default:
      comm_.all_reduce(&seconds, &out, 1, DataType::kFloat64, ReduceOp::kMax).wait();
      break;
  }
  return out;
}

int64_t Runner::SumOverRanks(int64_t value) {
  int64_t out = value;
  comm_.all_reduce(&value, &out, 1, DataType::kInt64, ReduceOp::kSum).wait();
  return out;
}

Measurement Runner::BenchTime(const TestCase& tc, const Sizes& sizes, bool in_place) {
  if (opts_.check > 0) InitData(tc, sizes, in_place, 99);  // sane values while timing

  std::vector<Work> works;
  Start(tc, sizes, in_place, &works);  // untimed call, then line everyone up
  WaitAll(works);
  Barrier();

  const std::size_t calls =
      static_cast<std::size_t>(opts_.iters) * static_cast<std::size_t>(opts_.agg_iters);
  works.clear();
  // Handles of finished calls are dropped, not held until the end: holding thousands of them
  // would make every call allocate fresh memory (page faults included), which is the benchmark's
  // cost, not the library's. Without blocking, ops that finish in call order are represented by
  // the newest handle (waiting for it waits for all).
  const bool keep_newest = opts_.blocking == 0 && coll_.CompletesInOrder();
  if (!keep_newest) works.reserve(calls);
  Clock::duration call_time{};  // -z 3: time spent outside the barriers
  const Clock::time_point start = Clock::now();
  for (int iter = 0; iter < opts_.iters; ++iter) {
    // Read only for -z 3: at 8 B a clock read is ~3% of an op, and the peers' loops have none.
    const Clock::time_point iter_start = opts_.blocking == 3 ? Clock::now() : Clock::time_point{};
    const std::size_t iter_first = works.size();
    for (int agg = 0; agg < opts_.agg_iters; ++agg) {
      const std::size_t first = works.size();
      Start(tc, sizes, in_place, &works);
      if (opts_.blocking == 1 || opts_.blocking == 2) {
        WaitAll(works, first);
        works.clear();
        if (opts_.blocking == 1) Barrier();
      } else if (keep_newest && works.size() > 1) {
        works.erase(works.begin(), works.end() - 1);
      }
    }
    if (opts_.blocking == 3) {
      WaitAll(works, iter_first);
      call_time += Clock::now() - iter_start;
      Barrier();
    }
  }
  const double cpu_seconds =
      (opts_.blocking == 3 ? Seconds(call_time) : Seconds(Clock::now() - start)) /
      static_cast<double>(calls);
  WaitAll(works);
  double seconds = (opts_.blocking == 3 ? Seconds(call_time) : Seconds(Clock::now() - start)) /
                   static_cast<double>(calls);
  works.clear();
  seconds = ReduceTime(seconds);

  const std::size_t bytes = std::max(sizes.send_count, sizes.recv_count) * data_type_size(tc.type);
  Measurement m;
  m.time_us = (opts_.report_cputime ? cpu_seconds : seconds) * 1e6;
  m.algbw = static_cast<double>(bytes) / 1e9 / seconds;
  m.busbw = m.algbw * coll_.BusBwFactor(nranks_);

  if (opts_.check > 0 && (!in_place || coll_.ChecksInPlace())) {
    m.wrong = 0;
    for (int c = 0; c < opts_.check; ++c) {
      InitData(tc, sizes, in_place, ++seed_);
      Start(tc, sizes, in_place, &works);
      WaitAll(works);
      works.clear();
      const int64_t local = CountLocalWrong(tc, sizes, in_place);
      if (local > 0) ++local_errors_;
      m.wrong = SumOverRanks(local);
      if (*m.wrong > 0) break;
    }
  }
  busbw_sum_ += m.busbw;
  ++busbw_count_;
  return m;
}

void Runner::TimeTest(const TestCase& tc) {
  Barrier();
  if (opts_.warmup_iters > 0) {
    // Warm up every size class (doubling), out of place, like nccl-tests.
    std::optional<std::size_t> size = opts_.min_bytes;
    for (; size; size = NextSize(*size, 2, 0, opts_.max_bytes)) {
      const Sizes sizes = SizesFor(*size, tc.type);
      std::vector<Work> works;
      for (int i = 0; i < opts_.warmup_iters; ++i) Start(tc, sizes, false, &works);
      WaitAll(works);
    }
  }
  for (int cycle = 0; opts_.run_cycles == 0 || cycle < opts_.run_cycles; ++cycle) {
    std::optional<std::size_t> size = opts_.min_bytes;
    for (; size; size = NextSize(*size, opts_.step_factor, opts_.step_bytes, opts_.max_bytes)) {
      const Sizes sizes = SizesFor(*size, tc.type);
      Row row;
      row.bytes = std::max(sizes.send_count, sizes.recv_count) * data_type_size(tc.type);
      row.count = sizes.param_count;
      row.type = data_type_name(tc.type);
      row.redop = tc.op_name;
      row.root = tc.root;
      Print(RowPrefix(row));
      std::fflush(stdout);
      row.out_of_place = BenchTime(tc, sizes, false);
      Print(RowCell(row.out_of_place));
      row.in_place = BenchTime(tc, sizes, true);
      Print(RowCell(row.in_place) + "\n");
      if (json_) json_->AddRow(row);
    }
  }
}

int Runner::Run() {
  if (coll_.uses_root() && opts_.root >= nranks_) {
    throw UsageError(fmt::format("--root {} is out of range: the job has {} ranks (0..{})",
                                 opts_.root, nranks_, nranks_ - 1));
  }
  if (opts_.timeout_s > 0) comm_.set_timeout(std::chrono::seconds(opts_.timeout_s));
  OpenJson();
  json header = PrintHeader();
  if (rank_ == 0 && json_file_.is_open()) json_ = std::make_unique<JsonReport>(std::move(header));

  std::vector<int> roots;
  if (!coll_.uses_root()) {
    roots.push_back(-1);
  } else if (opts_.root < 0) {
    for (int r = 0; r < nranks_; ++r) roots.push_back(r);
  } else {
    roots.push_back(opts_.root);
  }
  for (DataType type : opts_.types) {
    if (coll_.uses_op()) {
      for (ReduceOp op : opts_.ops) {
        const std::optional<ReduceOp> data_op =
            coll_.reduces() ? std::optional<ReduceOp>(op) : std::nullopt;
        for (int root : roots) TimeTest({type, op, data_op, reduce_op_name(op), root});
      }
    } else {
      for (int root : roots) TimeTest({type, ReduceOp::kSum, std::nullopt, "none", root});
    }
  }

  const int64_t errors = SumOverRanks(local_errors_);
  const double avg_busbw = busbw_count_ ? busbw_sum_ / static_cast<double>(busbw_count_) : 0.0;
  Print(Footer(errors, avg_busbw));
  Print(fmt::format("# Collective test concluded: {}\n", program_));
  std::fflush(stdout);
  if (json_) json_->Write(json_file_, errors, avg_busbw);
  return errors ? 1 : 0;
}

}  // namespace

int PerfMain(int argc, char** argv, const Collective& collective) {
  constexpr int kSkipped = 77;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string program = ProgramName(argc > 0 ? argv[0] : nullptr);
  const int launch_rank = LaunchRank();
  std::variant<Options, int> parsed = ParseArgs(argc, argv, program, launch_rank <= 0);
  if (const int* status = std::get_if<int>(&parsed)) {
    // Only rank 0 explains a bad flag. The other ranks exit a little later, since a launcher
    // like railcc-run stops every rank as soon as one fails, and rank 0 must get to print first.
    if (*status != 0 && launch_rank > 0) std::this_thread::sleep_for(std::chrono::seconds(2));
    return *status;
  }
  const Options& opts = std::get<Options>(parsed);
  if (opts.cuda && cuda::device_api() == nullptr) {
    // Nothing to measure: say so, and exit with the conventional "skipped" status.
    if (launch_rank <= 0) {
      std::printf("# %s: --device cuda: no CUDA device (%s): skipped\n", program.c_str(),
                  cuda::no_device_reason().c_str());
    }
    return kSkipped;
  }

  std::shared_ptr<Communicator> comm;
  try {
    comm = Communicator::init();
    Runner runner(*comm, collective, opts, program);
    return runner.Run();
  } catch (const UsageError& e) {
    // Raised on every rank alike (e.g. --root out of range): rank 0 prints, then all leave
    // together so that no rank is stopped before rank 0 has printed.
    if (comm->rank() == 0) {
      std::fflush(stdout);
      std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
      std::fflush(stderr);
    }
    try {
      comm->barrier().wait(std::chrono::seconds(10));
    } catch (const std::exception&) {
      // Leaving anyway.
    }
    return 2;
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "railcc error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return 1;
  }
}

}  // namespace railcc::bench
