#include "tests/cuda/device_suite.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "src/cuda/flag_pool.h"
#include "tests/mp/harness.h"
#include "tests/mp/values.h"

namespace railcc::test {

using Bytes = std::vector<std::byte>;

DeviceBuffer::DeviceBuffer(cuda::DeviceApi& api, std::size_t bytes)
    : api_(api), ptr_(static_cast<std::byte*>(api.alloc_device(bytes))), bytes_(bytes) {}
DeviceBuffer::~DeviceBuffer() { api_.free_device(ptr_); }

void DeviceBuffer::upload(const Bytes& host, std::size_t at) {
  if (!host.empty()) api_.copy(ptr_ + at, host.data(), host.size());
}

Bytes DeviceBuffer::download(std::size_t at, std::size_t bytes) const {
  Bytes out(std::min(bytes, bytes_ - at));
  if (!out.empty()) api_.copy(out.data(), ptr_ + at, out.size());
  return out;
}

namespace {

void check_equal(const Bytes& got, const Bytes& want, DataType t, const std::string& what) {
  CHECK(got.size() == want.size(), "{}: {} bytes, expected {}", what, got.size(), want.size());
  const long at = first_mismatch(got, want, t);
  CHECK(at < 0, "{}: first wrong element {} of {}", what, at, want.size() / data_type_size(t));
}

Bytes slice(const Bytes& b, std::size_t from, std::size_t bytes) {
  return Bytes(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(from + bytes));
}

// Some bytes of garbage, so a result never matches by accident.
Bytes garbage(std::size_t bytes) {
  Bytes g(bytes);
  for (std::size_t i = 0; i < bytes; ++i) g[i] = static_cast<std::byte>(0xA5 ^ (i * 31));
  return g;
}

struct Ctx {
  Communicator& c;
  cuda::DeviceApi& api;
  CudaStream stream;
  int n, r;
};

void all_reduce(Ctx& x, std::size_t count, DataType t, ReduceOp op, bool in_place) {
  const std::size_t bytes = count * data_type_size(t);
  const Bytes input = make_input(x.r, count, t, op);
  DeviceBuffer send(x.api, bytes), recv(x.api, bytes);
  send.upload(input);
  recv.upload(garbage(bytes));
  DeviceBuffer& out = in_place ? send : recv;
  Work w = x.c.all_reduce(send.get(), out.get(), count, t, op, x.stream);
  CHECK(w.is_cuda() || count == 0, "an op on GPU buffers is a CUDA op");
  w.synchronize();
  const std::string what = fmt::format("all_reduce {} x {} {} {}", count, data_type_name(t),
                                       reduce_op_name(op), in_place ? "in place" : "");
  check_equal(out.download(), expected_reduction(x.n, count, t, op), t, what);
  if (!in_place) check_equal(send.download(), input, t, what + ": input modified");
}

void reduce_scatter(Ctx& x, std::size_t count, DataType t, ReduceOp op, bool in_place) {
  const std::size_t es = data_type_size(t), n = static_cast<std::size_t>(x.n);
  const Bytes input = make_input(x.r, count * n, t, op);
  const Bytes want = slice(expected_reduction(x.n, count * n, t, op), count * x.r * es, count * es);
  DeviceBuffer send(x.api, count * n * es), recv(x.api, count * es);
  send.upload(input);
  std::byte* out = in_place ? send.get() + count * x.r * es : recv.get();
  x.c.reduce_scatter(send.get(), out, count, t, op, x.stream).synchronize();
  const Bytes got = in_place ? send.download(count * x.r * es, count * es) : recv.download();
  check_equal(got, want, t,
              fmt::format("reduce_scatter {} x {} {} {}", count, data_type_name(t),
                          reduce_op_name(op), in_place ? "in place" : ""));
}

void all_gather(Ctx& x, std::size_t count, bool in_place) {
  const DataType t = DataType::kInt32;
  const std::size_t es = 4, n = static_cast<std::size_t>(x.n);
  Bytes want;
  for (int q = 0; q < x.n; ++q) {
    const Bytes part = make_input(q, count, t, ReduceOp::kSum);
    want.insert(want.end(), part.begin(), part.end());
  }
  const Bytes mine = make_input(x.r, count, t, ReduceOp::kSum);
  DeviceBuffer send(x.api, count * es), recv(x.api, count * n * es);
  recv.upload(garbage(count * n * es));
  const std::byte* in = send.get();
  if (in_place) {
    recv.upload(mine, count * x.r * es);
    in = recv.get() + count * x.r * es;
  } else {
    send.upload(mine);
  }
  x.c.all_gather(in, recv.get(), count, t, x.stream).synchronize();
  check_equal(recv.download(), want, t,
              fmt::format("all_gather {} {}", count, in_place ? "in place" : ""));
}

void broadcast(Ctx& x, std::size_t count, int root, bool in_place) {
  const DataType t = DataType::kFloat32;
  const std::size_t bytes = count * 4;
  const Bytes want = make_input(root, count, t, ReduceOp::kSum);
  DeviceBuffer send(x.api, bytes), recv(x.api, bytes);
  recv.upload(garbage(bytes));
  if (x.r == root) (in_place ? recv : send).upload(want);
  x.c.broadcast(in_place ? recv.get() : send.get(), recv.get(), count, t, root, x.stream)
      .synchronize();
  check_equal(recv.download(), want, t, fmt::format("broadcast {} root {}", count, root));
}

void reduce(Ctx& x, std::size_t count, DataType t, ReduceOp op, int root, bool in_place) {
  const std::size_t bytes = count * data_type_size(t);
  const Bytes input = make_input(x.r, count, t, op);
  DeviceBuffer send(x.api, bytes), recv(x.api, bytes);
  send.upload(input);
  DeviceBuffer& out = in_place ? send : recv;
  x.c.reduce(send.get(), out.get(), count, t, op, root, x.stream).synchronize();
  if (x.r == root) {
    check_equal(out.download(), expected_reduction(x.n, count, t, op), t,
                fmt::format("reduce {} x {} {} root {}", count, data_type_name(t),
                            reduce_op_name(op), root));
  }
}

void gather_scatter_alltoall(Ctx& x, std::size_t count) {
  const DataType t = DataType::kInt32;
  const std::size_t es = 4, n = static_cast<std::size_t>(x.n);
  // gather to the last rank
  const int root = x.n - 1;
  {
    DeviceBuffer send(x.api, count * es), recv(x.api, count * n * es);
    send.upload(make_input(x.r, count, t, ReduceOp::kSum));
    x.c.gather(send.get(), recv.get(), count, t, root, x.stream).synchronize();
    if (x.r == root) {
      Bytes want;
      for (int q = 0; q < x.n; ++q) {
        const Bytes p = make_input(q, count, t, ReduceOp::kSum);
        want.insert(want.end(), p.begin(), p.end());
      }
      check_equal(recv.download(), want, t, fmt::format("gather {}", count));
    }
  }
  // scatter from rank 0
  {
    const Bytes all = make_input(100, count * n, t, ReduceOp::kSum);
    DeviceBuffer send(x.api, count * n * es), recv(x.api, count * es);
    if (x.r == 0) send.upload(all);
    x.c.scatter(send.get(), recv.get(), count, t, 0, x.stream).synchronize();
    check_equal(recv.download(), slice(all, count * x.r * es, count * es), t,
                fmt::format("scatter {}", count));
  }
  // all_to_all: block q of rank r's send is value (r, q)
  {
    Bytes mine, want;
    for (int q = 0; q < x.n; ++q) {
      const Bytes b = make_input(x.r * 16 + q, count, t, ReduceOp::kSum);
      mine.insert(mine.end(), b.begin(), b.end());
      const Bytes w = make_input(q * 16 + x.r, count, t, ReduceOp::kSum);
      want.insert(want.end(), w.begin(), w.end());
    }
    DeviceBuffer send(x.api, count * n * es), recv(x.api, count * n * es);
    send.upload(mine);
    x.c.all_to_all(send.get(), recv.get(), count, t, x.stream).synchronize();
    check_equal(recv.download(), want, t, fmt::format("all_to_all {}", count));
  }
  // all_to_allv with gaps in the receive buffer, which must keep their bytes
  {
    std::vector<std::size_t> sc(n), sd(n), rc(n), rd(n);
    std::size_t s_off = 0, r_off = 0;
    for (std::size_t q = 0; q < n; ++q) {
      sc[q] = count + q;  // to rank q
      sd[q] = s_off;
      s_off += sc[q];
      rc[q] = count + static_cast<std::size_t>(x.r);  // from rank q: what q sends to me
      rd[q] = r_off + 1;                              // one element of gap before each block
      r_off = rd[q] + rc[q];
    }
    const Bytes src = make_input(x.r, s_off, t, ReduceOp::kSum);
    const Bytes before = garbage(r_off * es);
    DeviceBuffer send(x.api, std::max<std::size_t>(s_off, 1) * es),
        recv(x.api, std::max<std::size_t>(r_off, 1) * es);
    send.upload(src);
    recv.upload(before);
    x.c.all_to_allv(send.get(), sc, sd, recv.get(), rc, rd, t, x.stream).synchronize();
    Bytes want = before;
    for (std::size_t q = 0; q < n; ++q) {
      // rank q's block for me starts at its displacement for rank r
      std::size_t q_disp = 0;
      for (std::size_t j = 0; j < static_cast<std::size_t>(x.r); ++j) q_disp += count + j;
      const Bytes qsrc = make_input(static_cast<int>(q), q_disp + rc[q], t, ReduceOp::kSum);
      if (rc[q] > 0) std::memcpy(want.data() + rd[q] * es, qsrc.data() + q_disp * es, rc[q] * es);
    }
    check_equal(recv.download(0, r_off * es), want, t, fmt::format("all_to_allv {}", count));
  }
}

void send_recv(Ctx& x, std::size_t count) {
  if (x.n < 2) return;  // a rank's send to itself on one stream would wait for its own recv
  const DataType t = DataType::kFloat64;
  const std::size_t bytes = count * 8;
  const int next = (x.r + 1) % x.n, prev = (x.r - 1 + x.n) % x.n;
  DeviceBuffer send(x.api, bytes), recv(x.api, bytes);
  send.upload(make_input(x.r, count, t, ReduceOp::kSum));
  // One stream orders a rank's send and receive: even ranks send first, odd ranks receive first
  // (as NCCL outside a group call). Odd world sizes: the last rank pairs up with rank 0 last.
  std::vector<Work> works;
  const bool send_first = x.r % 2 == 0 && !(x.n % 2 == 1 && x.r == x.n - 1);
  if (send_first) {
    works.push_back(x.c.send(send.get(), count, t, next, 7, x.stream));
    works.push_back(x.c.recv(recv.get(), count, t, prev, 7, x.stream));
  } else {
    works.push_back(x.c.recv(recv.get(), count, t, prev, 7, x.stream));
    works.push_back(x.c.send(send.get(), count, t, next, 7, x.stream));
  }
  for (Work& w : works) w.synchronize();
  check_equal(recv.download(), make_input(prev, count, t, ReduceOp::kSum), t,
              fmt::format("recv {} from {}", count, prev));
}

}  // namespace

void exercise_device_collectives(Communicator& c, cuda::DeviceApi& api, cuda::StreamHandle s,
                                 bool full) {
  Ctx x{c, api, CudaStream{s}, c.size(), c.rank()};
  const std::size_t counts[] = {0, 1, 37, 5003};
  for (DataType t : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      const bool wanted = full || t == DataType::kFloat32 || t == DataType::kBFloat16 ||
                          (t == DataType::kInt8 && op == ReduceOp::kProd) ||
                          (t == DataType::kFloat16 && op == ReduceOp::kMax) ||
                          (t == DataType::kInt64 && op == ReduceOp::kAvg);
      if (!wanted) continue;
      for (std::size_t count : counts) all_reduce(x, count, t, op, count % 2 == 1);
    }
  }
  all_reduce(x, 70001, DataType::kFloat32, ReduceOp::kSum, false);  // many IPC chunks
  all_reduce(x, 70001, DataType::kFloat16, ReduceOp::kAvg, true);
  for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{33}, std::size_t{3001}}) {
    for (bool in_place : {false, true}) {
      reduce_scatter(x, count, DataType::kFloat32, ReduceOp::kSum, in_place);
      reduce_scatter(x, count, DataType::kInt32, ReduceOp::kAvg, in_place);
      reduce_scatter(x, count, DataType::kBFloat16, ReduceOp::kMax, in_place);
      all_gather(x, count, in_place);
      broadcast(x, count, x.n - 1, in_place);
      reduce(x, count, DataType::kFloat32, ReduceOp::kAvg, 0, in_place);
      reduce(x, count, DataType::kInt8, ReduceOp::kMax, x.n - 1, in_place);
    }
    gather_scatter_alltoall(x, count);
    send_recv(x, count);
  }
  c.barrier(x.stream).synchronize();
}

void check_stream_ordering(Communicator& c, cuda::DeviceApi& api, cuda::StreamHandle s) {
  const std::size_t count = 4099;
  const DataType t = DataType::kFloat32;
  const std::size_t bytes = count * 4;
  const Bytes input = make_input(c.rank(), count, t, ReduceOp::kSum);
  const Bytes want = expected_reduction(c.size(), count, t, ReduceOp::kSum);
  DeviceBuffer send(api, bytes), recv(api, bytes), after(api, bytes), other(api, bytes);
  send.upload(garbage(bytes));
  // The stream stops at a gate; the input is written behind it (from pinned memory, so the copy
  // is truly asynchronous on a real GPU).
  void* pinned = api.alloc_host(bytes);
  std::memcpy(pinned, input.data(), bytes);
  cuda::FlagPool pool(api);
  cuda::FlagPool::Gate gate = pool.acquire();
  api.wait_flag(s, gate.word, gate.value);
  api.copy_async(send.get(), pinned, bytes, s);
  Work w = c.all_reduce(send.get(), recv.get(), count, t, ReduceOp::kSum, CudaStream{s});
  api.copy_async(after.get(), recv.get(), bytes, s);  // later work on the stream
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(!w.is_completed(), "the op completed while its stream was held before it");
  CHECK(!w.test(), "test() true while the stream was held before the op");
  pool.release(gate);
  // A second stream ordered after the op.
  cuda::StreamHandle s2 = api.create_stream();
  w.wait_stream(s2);
  api.copy_async(other.get(), recv.get(), bytes, s2);
  w.synchronize();
  CHECK(w.is_completed(), "synchronize() returned before the op completed");
  api.synchronize(s);
  api.synchronize(s2);
  api.destroy_stream(s2);
  api.free_host(pinned);
  check_equal(recv.download(), want, t, "stream ordering: result");
  check_equal(after.download(), want, t, "stream ordering: the stream's later work");
  check_equal(other.download(), want, t, "stream ordering: a stream after wait_stream()");
}

void check_host_buffers_on_stream(Communicator& c, cuda::DeviceApi& api, cuda::StreamHandle s) {
  const std::size_t count = 1000;
  const DataType t = DataType::kInt64;
  Bytes send = make_input(c.rank(), count, t, ReduceOp::kMax), recv(count * 8);
  cuda::FlagPool pool(api);
  cuda::FlagPool::Gate gate = pool.acquire();
  api.wait_flag(s, gate.word, gate.value);
  Work w = c.all_reduce(send.data(), recv.data(), count, t, ReduceOp::kMax, CudaStream{s});
  CHECK(w.is_cuda(), "host buffers with a stream are ordered on the stream");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(!w.is_completed(), "a host-buffer op on a held stream completed");
  pool.release(gate);
  w.synchronize();
  check_equal(recv, expected_reduction(c.size(), count, t, ReduceOp::kMax), t,
              "host buffers on a stream");
}

}  // namespace railcc::test
