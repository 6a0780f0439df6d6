// The body of the "every collective" test, shared by every transport's suite (shm, tcp, rails in
// collectives_test.cc; RDMA verbs over the test double in tests/verbs/).
#include "tests/mp/collective_suite.h"

#include <cstring>
#include <numeric>

#include "tests/mp/harness.h"
#include "tests/mp/values.h"

namespace railcc::test {
namespace {

using Bytes = std::vector<std::byte>;

void check_equal(const Bytes& got, const Bytes& want, DataType t, const std::string& what) {
  const long at = first_mismatch(got, want, t);
  CHECK(at < 0, "{}: first wrong element {} ({} elements)", what, at,
        want.size() / data_type_size(t));
}

void test_all_reduce(Communicator& c, std::size_t count, DataType t, ReduceOp op, bool in_place) {
  const Bytes input = make_input(c.rank(), count, t, op);
  Bytes send = input, recv(input.size());
  if (in_place) {
    c.all_reduce(send.data(), send.data(), count, t, op).wait();
    recv = send;
  } else {
    c.all_reduce(send.data(), recv.data(), count, t, op).wait();
    check_equal(send, input, t, "all_reduce must not modify its input");
  }
  check_equal(recv, expected_reduction(c.size(), count, t, op), t,
              fmt::format("all_reduce {} x {} {} {}", count, data_type_name(t), reduce_op_name(op),
                          in_place ? "in place" : "out of place"));
}

void test_reduce_scatter(Communicator& c, std::size_t count, DataType t, ReduceOp op,
                         bool in_place) {
  const std::size_t es = data_type_size(t), n = c.size();
  const Bytes input = make_input(c.rank(), count * n, t, op);
  const Bytes full = expected_reduction(c.size(), count * n, t, op);
  const Bytes want(full.begin() + count * c.rank() * es,
                   full.begin() + count * (c.rank() + 1) * es);
  Bytes send = input, recv(count * es);
  if (in_place) {
    c.reduce_scatter(send.data(), send.data() + count * c.rank() * es, count, t, op).wait();
    recv.assign(send.begin() + count * c.rank() * es, send.begin() + count * (c.rank() + 1) * es);
  } else {
    c.reduce_scatter(send.data(), recv.data(), count, t, op).wait();
  }
  check_equal(recv, want, t,
              fmt::format("reduce_scatter {} x {} {}", count, data_type_name(t),
                          in_place ? "in place" : "out of place"));
}

void test_all_gather(Communicator& c, std::size_t count, bool in_place) {
  const DataType t = DataType::kInt32;
  const std::size_t n = c.size();
  Bytes want;
  for (std::size_t r = 0; r < n; ++r) {
    Bytes part = make_input(static_cast<int>(r), count, t, ReduceOp::kSum);
    want.insert(want.end(), part.begin(), part.end());
  }
  const Bytes mine = make_input(c.rank(), count, t, ReduceOp::kSum);
  Bytes recv(want.size());
  if (in_place) {
    if (!mine.empty()) std::memcpy(recv.data() + mine.size() * c.rank(), mine.data(), mine.size());
    c.all_gather(recv.data() + mine.size() * c.rank(), recv.data(), count, t).wait();
  } else {
    c.all_gather(mine.data(), recv.data(), count, t).wait();
  }
  check_equal(recv, want, t, fmt::format("all_gather {} {}", count, in_place ? "in place" : ""));
}

void test_broadcast(Communicator& c, std::size_t count, int root, bool in_place) {
  const DataType t = DataType::kFloat32;
  const Bytes want = make_input(root, count, t, ReduceOp::kSum);
  Bytes buf = c.rank() == root ? want : Bytes(want.size());
  Bytes out(want.size());
  if (in_place) {
    c.broadcast(buf.data(), buf.data(), count, t, root).wait();
    out = buf;
  } else {
    c.broadcast(buf.data(), out.data(), count, t, root).wait();
  }
  check_equal(out, want, t, fmt::format("broadcast {} root {}", count, root));
}

void test_reduce(Communicator& c, std::size_t count, DataType t, ReduceOp op, int root) {
  const Bytes input = make_input(c.rank(), count, t, op);
  Bytes recv(input.size());
  c.reduce(input.data(), recv.data(), count, t, op, root).wait();
  if (c.rank() == root) {
    check_equal(recv, expected_reduction(c.size(), count, t, op), t,
                fmt::format("reduce {} x {} root {}", count, data_type_name(t), root));
  }
}

void test_gather_scatter(Communicator& c, std::size_t count, int root) {
  const DataType t = DataType::kInt64;
  const std::size_t n = c.size();
  Bytes all;
  for (std::size_t r = 0; r < n; ++r) {
    Bytes part = make_input(static_cast<int>(r), count, t, ReduceOp::kSum);
    all.insert(all.end(), part.begin(), part.end());
  }
  const Bytes mine = make_input(c.rank(), count, t, ReduceOp::kSum);
  Bytes gathered(all.size());
  c.gather(mine.data(), gathered.data(), count, t, root).wait();
  if (c.rank() == root)
    check_equal(gathered, all, t, fmt::format("gather {} root {}", count, root));
  Bytes part(mine.size());
  c.scatter(c.rank() == root ? all.data() : nullptr, part.data(), count, t, root).wait();
  check_equal(part, mine, t, fmt::format("scatter {} root {}", count, root));
}

void test_all_to_all(Communicator& c, std::size_t count, bool in_place) {
  const DataType t = DataType::kInt32;
  const int n = c.size(), me = c.rank();
  std::vector<int32_t> send(count * n), want(count * n);
  for (int q = 0; q < n; ++q) {
    for (std::size_t i = 0; i < count; ++i) {
      send[q * count + i] = me * 100000 + q * 1000 + static_cast<int32_t>(i);
      want[q * count + i] = q * 100000 + me * 1000 + static_cast<int32_t>(i);
    }
  }
  std::vector<int32_t> recv(count * n);
  if (in_place) {
    c.all_to_all(send.data(), send.data(), count, t).wait();
    recv = send;
  } else {
    c.all_to_all(send.data(), recv.data(), count, t).wait();
  }
  CHECK(recv == want, "all_to_all {} {}", count, in_place ? "in place" : "");
}

void test_all_to_allv(Communicator& c) {
  // Rank s sends (s + d) % 3 + d elements to rank d: uneven, sometimes zero.
  const int n = c.size(), me = c.rank();
  auto len = [](int s, int d) { return static_cast<std::size_t>((s + d) % 3 + d); };
  std::vector<std::size_t> sc(n), sd(n), rc(n), rd(n);
  std::size_t stotal = 0, rtotal = 0;
  for (int q = 0; q < n; ++q) {
    sc[q] = len(me, q), sd[q] = stotal, stotal += sc[q];
    rc[q] = len(q, me), rd[q] = rtotal, rtotal += rc[q];
  }
  std::vector<double> send(stotal), recv(rtotal, -1), want(rtotal);
  for (int q = 0; q < n; ++q) {
    for (std::size_t i = 0; i < sc[q]; ++i) send[sd[q] + i] = me * 1000 + q * 10 + i;
    for (std::size_t i = 0; i < rc[q]; ++i) want[rd[q] + i] = q * 1000 + me * 10 + i;
  }
  c.all_to_allv(send.data(), sc, sd, recv.data(), rc, rd, DataType::kFloat64).wait();
  CHECK(recv == want, "all_to_allv");
}

void test_send_recv(Communicator& c) {
  const int n = c.size(), me = c.rank();
  if (n == 1) return;
  std::vector<int32_t> out(5000), in(5000, -1), want(5000);
  std::iota(out.begin(), out.end(), me * 10000);
  std::iota(want.begin(), want.end(), ((me - 1 + n) % n) * 10000);
  // Post both directions before waiting: a ring of sends never deadlocks.
  Work r = c.recv(in.data(), in.size(), DataType::kInt32, (me - 1 + n) % n, 7);
  Work s = c.send(out.data(), out.size(), DataType::kInt32, (me + 1) % n, 7);
  s.wait();
  r.wait();
  CHECK(in == want, "send/recv ring");
}

void test_split(Communicator& c) {
  // Even and odd ranks form two communicators, ordered by descending parent rank.
  auto sub = c.split(c.rank() % 2, -c.rank());
  CHECK(sub != nullptr, "split returned null for a member");
  const int expect_size = (c.size() + (c.rank() % 2 ? 0 : 1)) / 2;
  CHECK(sub->size() == expect_size, "split size {} != {}", sub->size(), expect_size);
  int64_t v = c.rank(), sum = 0;
  sub->all_reduce(&v, &sum, 1, DataType::kInt64, ReduceOp::kSum).wait();
  int64_t want = 0;
  for (int r = c.rank() % 2; r < c.size(); r += 2) want += r;
  CHECK(sum == want, "split all_reduce {} != {}", sum, want);
  // new_group of ranks {0, last}.
  std::vector<int> members = {0};
  if (c.size() > 1) members.push_back(c.size() - 1);
  auto group = c.new_group(members);
  const bool member = c.rank() == 0 || c.rank() == c.size() - 1;
  CHECK((group != nullptr) == member, "new_group membership");
  if (group) {
    int32_t one = 1, count = 0;
    group->all_reduce(&one, &count, 1, DataType::kInt32, ReduceOp::kSum).wait();
    CHECK(count == static_cast<int32_t>(members.size()), "new_group size");
  }
  c.barrier().wait();
}

}  // namespace

void exercise_every_collective(Communicator& c) {
  const std::size_t n = c.size();
  const std::size_t counts[] = {0, 1, 7, n > 1 ? n - 1 : 2, 1031, 70001};
  for (std::size_t count : counts) {
    for (bool in_place : {false, true}) {
      test_all_reduce(c, count, DataType::kFloat32, ReduceOp::kSum, in_place);
      test_reduce_scatter(c, count, DataType::kFloat32, ReduceOp::kSum, in_place);
      test_all_gather(c, count, in_place);
      test_broadcast(c, count, static_cast<int>(count % n), in_place);
      test_all_to_all(c, count % 3000, in_place);
    }
    test_reduce(c, count, DataType::kInt32, ReduceOp::kSum, static_cast<int>((count + 1) % n));
    test_gather_scatter(c, count % 5000, static_cast<int>(count % n));
  }
  for (DataType t : kAllDataTypes) {
    for (ReduceOp op : kAllReduceOps) {
      for (std::size_t count : {std::size_t{33}, std::size_t{9001}}) {
        test_all_reduce(c, count, t, op, count == 33);
        test_reduce(c, count, t, op, 0);
      }
      test_reduce_scatter(c, 517, t, op, false);
    }
  }
  test_all_to_allv(c);
  test_send_recv(c);
  // Many ops in flight at once complete in order.
  std::vector<std::vector<int32_t>> bufs(16, std::vector<int32_t>(1000));
  std::vector<Work> works;
  for (std::size_t k = 0; k < bufs.size(); ++k) {
    std::fill(bufs[k].begin(), bufs[k].end(), static_cast<int32_t>(k + c.rank()));
    works.push_back(
        c.all_reduce(bufs[k].data(), bufs[k].data(), 1000, DataType::kInt32, ReduceOp::kSum));
  }
  for (std::size_t k = 0; k < bufs.size(); ++k) {
    works[k].wait();
    const int32_t want = static_cast<int32_t>(k * n + n * (n - 1) / 2);
    CHECK(bufs[k][999] == want, "async op {}: {} != {}", k, bufs[k][999], want);
  }
  test_split(c);
}

}  // namespace railcc::test
