"""Op checks run on every rank by the tests (see harness.World): each rank computes locally what
every rank contributes and compares railcc's result with a reference built from that.

Values are small integers so that sums, products and averages are exact in every dtype,
float16 and bfloat16 included: a mismatch is a bug, never rounding.
"""

import torch
import torch.distributed as dist

FLOAT_TYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
INT_TYPES = [torch.uint8, torch.int8, torch.int32, torch.int64]
REDUCE_TYPES = [torch.bool, *INT_TYPES, *FLOAT_TYPES]
# Types railcc only moves (no reductions): they travel as bytes.
MOVE_ONLY_TYPES = [torch.int16, torch.complex64]


def contribution(rank, n, dtype, salt=0, small=False):
    """What `rank` contributes: 1..7 (1..2 when `small`, for products), varying by index."""
    i = torch.arange(n, dtype=torch.int64)
    if dtype == torch.bool:
        return (i + rank + salt) % 3 == 0
    mod = 2 if small else 7
    v = (i * (salt + 1) + rank) % mod + 1
    if dtype.is_complex:
        return torch.complex(v.double(), -v.double()).to(dtype)
    return v.to(dtype)


def reduce_ref(parts, op):
    """op over the ranks' tensors, computed in float64 (exact for our values)."""
    dtype = parts[0].dtype
    s = torch.stack([p.double() for p in parts])
    if op == dist.ReduceOp.SUM:
        r = s.sum(0)
    elif op == dist.ReduceOp.PRODUCT:
        r = s.prod(0)
    elif op == dist.ReduceOp.MAX:
        r = s.max(0).values
    elif op == dist.ReduceOp.MIN:
        r = s.min(0).values
    elif op == dist.ReduceOp.AVG:
        r = s.mean(0)
    else:
        raise ValueError(op)
    if dtype == torch.bool:
        return r != 0
    return r.to(dtype)


def ops_for(dtype):
    ops = [dist.ReduceOp.SUM, dist.ReduceOp.PRODUCT, dist.ReduceOp.MAX, dist.ReduceOp.MIN]
    if dtype.is_floating_point:
        ops.append(dist.ReduceOp.AVG)
    return ops


def assert_equal(got, want, what):
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, want {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)}, want {tuple(want.shape)}"
    assert torch.equal(got, want), f"{what}: got {got.flatten()[:16]}, want {want.flatten()[:16]}"


def all_reduce(rank, world, dtype_name):
    dtype = getattr(torch, dtype_name)
    for n in (0, 1, 37, 4099):
        for op in ops_for(dtype):
            small = op == dist.ReduceOp.PRODUCT
            t = contribution(rank, n, dtype, small=small)
            dist.all_reduce(t, op=op)
            want = reduce_ref([contribution(r, n, dtype, small=small) for r in range(world)], op)
            assert_equal(t, want, f"all_reduce {op} of {n} x {dtype}")


def all_reduce_shapes(rank, world):
    # A non-contiguous tensor (a transposed view) is reduced in place through a staging copy.
    base = contribution(rank, 6 * 5, torch.float32).view(6, 5)
    t = base.t()
    assert not t.is_contiguous()
    dist.all_reduce(t)
    want = reduce_ref([contribution(r, 30, torch.float32).view(6, 5) for r in range(world)],
                      dist.ReduceOp.SUM)
    assert_equal(base, want, "all_reduce of a transposed view")
    # A slice of a larger tensor: only the slice changes.
    big = torch.full((20,), -1.0)
    part = big[5:15]
    part.copy_(contribution(rank, 10, torch.float32))
    dist.all_reduce(part)
    want = reduce_ref([contribution(r, 10, torch.float32) for r in range(world)],
                      dist.ReduceOp.SUM)
    assert_equal(big[5:15], want, "all_reduce of a slice")
    assert (big[:5] == -1).all() and (big[15:] == -1).all(), "all_reduce wrote outside the slice"
    # PREMUL_SUM: every rank's input scaled by the factor, then summed.
    t = contribution(rank, 9, torch.float64)
    dist.all_reduce(t, op=dist._make_nccl_premul_sum(2.0))
    want = reduce_ref([2.0 * contribution(r, 9, torch.float64) for r in range(world)],
                      dist.ReduceOp.SUM)
    assert_equal(t, want, "all_reduce PREMUL_SUM(2.0)")


def all_reduce_coalesced(rank, world):
    sizes = (13, 1, 1000)
    ts = [contribution(rank, n, torch.bfloat16, salt=n) for n in sizes]
    dist.all_reduce_coalesced(ts, op=dist.ReduceOp.MAX)
    for t, n in zip(ts, sizes):
        want = reduce_ref([contribution(r, n, torch.bfloat16, n) for r in range(world)],
                          dist.ReduceOp.MAX)
        assert_equal(t, want, f"all_reduce_coalesced {n}")
    # The coalescing manager (what FSDP and DDP's coalesced paths use) on the same ops.
    ts = [contribution(rank, 5, torch.float32, salt=s) for s in range(3)]
    with dist._coalescing_manager(async_ops=True) as cm:
        for t in ts:
            dist.all_reduce(t)
    cm.wait()
    for s, t in enumerate(ts):
        want = reduce_ref([contribution(r, 5, torch.float32, s) for r in range(world)],
                          dist.ReduceOp.SUM)
        assert_equal(t, want, f"coalescing manager all_reduce {s}")


def all_gather(rank, world, dtype_name):
    dtype = getattr(torch, dtype_name)
    for n in (0, 3, 1000):
        t = contribution(rank, n, dtype).view(-1, 1) if n else contribution(rank, n, dtype)
        outs = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(outs, t)
        for r in range(world):
            want = contribution(r, n, dtype).view_as(t)
            assert_equal(outs[r], want, f"all_gather block {r} of {n} x {dtype}")
        # all_gather_into_tensor, out of place and in place.
        flat = torch.empty(world * n, dtype=dtype)
        dist.all_gather_into_tensor(flat, contribution(rank, n, dtype))
        want = torch.cat([contribution(r, n, dtype) for r in range(world)])
        assert_equal(flat, want, f"all_gather_into_tensor of {n} x {dtype}")
        flat = torch.zeros(world, n, dtype=dtype)
        flat[rank].copy_(contribution(rank, n, dtype))
        dist.all_gather_into_tensor(flat, flat[rank])
        assert_equal(flat.view(-1), want, f"all_gather_into_tensor in place, {n} x {dtype}")


def reduce_scatter(rank, world, dtype_name):
    dtype = getattr(torch, dtype_name)
    for n in (0, 5, 777):
        for op in ops_for(dtype):
            small = op == dist.ReduceOp.PRODUCT
            ins = [contribution(rank, n, dtype, salt=j, small=small) for j in range(world)]
            out = torch.empty(n, dtype=dtype)
            dist.reduce_scatter(out, ins, op=op)
            want = reduce_ref([contribution(r, n, dtype, salt=rank, small=small)
                               for r in range(world)], op)
            assert_equal(out, want, f"reduce_scatter {op} of {n} x {dtype}")
            # reduce_scatter_tensor: block j of the input is what ins[j] was.
            out2 = torch.empty(n, dtype=dtype)
            dist.reduce_scatter_tensor(out2, torch.cat(ins), op=op)
            assert_equal(out2, want, f"reduce_scatter_tensor {op} of {n} x {dtype}")


def broadcast_reduce(rank, world, dtype_name):
    dtype = getattr(torch, dtype_name)
    for root in range(world):
        for n in (0, 17, 3000):
            t = contribution(rank, n, dtype, salt=root)
            dist.broadcast(t, src=root)
            assert_equal(t, contribution(root, n, dtype, salt=root), f"broadcast from {root}")
            if dtype.is_complex or dtype == torch.int16:
                continue
            t = contribution(rank, n, dtype, salt=root)
            dist.reduce(t, dst=root, op=dist.ReduceOp.MAX)
            if rank == root:
                want = reduce_ref([contribution(r, n, dtype, salt=root) for r in range(world)],
                                  dist.ReduceOp.MAX)
                assert_equal(t, want, f"reduce MAX to {root} of {n} x {dtype}")


def gather_scatter(rank, world, dtype_name):
    dtype = getattr(torch, dtype_name)
    for root in (0, world - 1):
        for n in (0, 11, 2048):
            t = contribution(rank, n, dtype, salt=root)
            outs = [torch.empty_like(t) for _ in range(world)] if rank == root else None
            dist.gather(t, outs, dst=root)
            if rank == root:
                for r in range(world):
                    assert_equal(outs[r], contribution(r, n, dtype, salt=root), f"gather {r}")
            ins = ([contribution(j, n, dtype, salt=root + 1) for j in range(world)]
                   if rank == root else None)
            out = torch.empty(n, dtype=dtype)
            dist.scatter(out, ins, src=root)
            assert_equal(out, contribution(rank, n, dtype, salt=root + 1), f"scatter from {root}")


def all_to_all(rank, world, dtype_name):
    dtype = getattr(torch, dtype_name)
    # Even split, two dimensions.
    inp = contribution(rank, world * 6, dtype).view(world * 2, 3)
    out = torch.empty_like(inp)
    dist.all_to_all_single(out, inp)
    want = torch.cat([contribution(r, world * 6, dtype).view(world * 2, 3)[2 * rank:2 * rank + 2]
                      for r in range(world)])
    assert_equal(out, want, f"all_to_all_single even, {dtype}")

    # Uneven: rank r sends (r + j) % 3 rows to rank j (some zero), rows of 2 elements.
    def sends(r):
        return [(r + j) % 3 for j in range(world)]

    def rows_of(r):
        s = sends(r)
        return contribution(r, sum(s) * 2, dtype, salt=1).view(-1, 2), s

    inp, in_splits = rows_of(rank)
    out_splits = [sends(r)[rank] for r in range(world)]
    out = torch.empty(sum(out_splits), 2, dtype=dtype)
    dist.all_to_all_single(out, inp, out_splits, in_splits)
    pieces = []
    for r in range(world):
        rows, s = rows_of(r)
        start = sum(s[:rank])
        pieces.append(rows[start:start + s[rank]])
    assert_equal(out, torch.cat(pieces), f"all_to_all_single uneven, {dtype}")

    # The list form, tensors of different sizes per peer.
    ins = [contribution(rank, rank + j + 1, dtype, salt=j) for j in range(world)]
    outs = [torch.empty(r + rank + 1, dtype=dtype) for r in range(world)]
    dist.all_to_all(outs, ins)
    for r in range(world):
        assert_equal(outs[r], contribution(r, r + rank + 1, dtype, salt=rank), f"all_to_all {r}")


def send_recv(rank, world):
    nxt, prv = (rank + 1) % world, (rank - 1) % world
    for dtype in (torch.float32, torch.bfloat16, torch.int16, torch.int64):
        # Blocking: even ranks send first; the ring still closes with an odd world.
        t = contribution(rank, 100, dtype)
        got = torch.empty_like(t)
        if rank % 2 == 0:
            dist.send(t, nxt)
            dist.recv(got, prv)
        else:
            dist.recv(got, prv)
            dist.send(t, nxt)
        assert_equal(got, contribution(prv, 100, dtype), f"send/recv ring {dtype}")
    # Non-blocking with tags, into a non-contiguous tensor. Like NCCL, railcc matches the sends
    # and receives between two ranks in the order they are posted; it checks that tags agree.
    a, b = contribution(rank, 12, torch.float32, salt=1), contribution(rank, 12, torch.float32, 2)
    got_a = torch.empty(12)
    got_b = torch.empty(4, 3).t()
    reqs = [dist.irecv(got_a, prv, tag=3), dist.irecv(got_b, prv, tag=7),
            dist.isend(a, nxt, tag=3), dist.isend(b, nxt, tag=7)]
    for r in reversed(reqs):
        r.wait()
    assert_equal(got_a, contribution(prv, 12, torch.float32, salt=1), "irecv tag 3")
    assert not got_b.is_contiguous()
    assert torch.equal(got_b.reshape(-1), contribution(prv, 12, torch.float32, 2)), "irecv tag 7"
    # batch_isend_irecv (what pipeline parallelism uses).
    ops = [dist.P2POp(dist.isend, contribution(rank, 5, torch.float64), nxt),
           dist.P2POp(dist.irecv, got := torch.empty(5, dtype=torch.float64), prv)]
    for r in dist.batch_isend_irecv(ops):
        r.wait()
    assert_equal(got, contribution(prv, 5, torch.float64), "batch_isend_irecv")


def barrier(rank, world):
    for _ in range(3):
        dist.barrier()
    w = dist.barrier(async_op=True)
    w.wait()
    assert w.is_completed()


def async_futures(rank, world):
    n = 1000
    want = reduce_ref([contribution(r, n, torch.float32) for r in range(world)],
                      dist.ReduceOp.SUM)
    # Several ops in flight, waited in reverse order.
    ts = [contribution(rank, n, torch.float32) for _ in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    for w in reversed(works):
        w.wait()
    for t in ts:
        assert_equal(t, want, "async all_reduce")
    # get_future() chains, and the chain runs without anyone calling wait() on the work.
    t = contribution(rank, n, torch.float32)
    fut = dist.all_reduce(t, async_op=True).get_future()
    doubled = fut.then(lambda f: f.value()[0] * 2).then(lambda f: f.value() + 1)
    assert_equal(doubled.wait(), want * 2 + 1, "future chain")
    # The future holds the op's output tensors; is_completed() turns true by itself.
    t = contribution(rank, n, torch.float32)
    w = dist.all_reduce(t, async_op=True)
    value = w.get_future().wait()
    assert_equal(value[0], want, "future value")
    assert w.is_completed() and w.exception() is None
    # Futures of other ops.
    outs = [torch.empty(3) for _ in range(world)]
    fut = dist.all_gather(outs, contribution(rank, 3, torch.float32), async_op=True).get_future()
    fut.wait()
    for r in range(world):
        assert_equal(outs[r], contribution(r, 3, torch.float32), "all_gather future")
    # A callback added after completion runs at once.
    done = []
    fut.add_done_callback(lambda f: done.append(True))
    assert done == [True]
    # A blocking call (asyncOp false) whose future is asked for before anyone waits: the work
    # joins the completion queue then, and the future still completes by itself.
    opts = dist.AllreduceOptions()
    opts.asyncOp = False
    t = contribution(rank, n, torch.float32)
    fut = dist.group.WORLD.allreduce([t], opts).get_future()
    assert_equal(fut.wait()[0], want, "future of a blocking call")
    # ... and asked for after wait(): already complete.
    t = contribution(rank, n, torch.float32)
    w = dist.group.WORLD.allreduce([t], opts)
    w.wait()
    assert w.get_future().done()


def new_groups(rank, world):
    evens = dist.new_group([r for r in range(world) if r % 2 == 0])
    odds = dist.new_group([r for r in range(world) if r % 2 == 1])
    mine = evens if rank % 2 == 0 else odds
    members = [r for r in range(world) if r % 2 == rank % 2]
    t = contribution(rank, 50, torch.float32)
    dist.all_reduce(t, group=mine)
    want = reduce_ref([contribution(r, 50, torch.float32) for r in members], dist.ReduceOp.SUM)
    assert_equal(t, want, "all_reduce in a subgroup")
    assert dist.get_rank(mine) == members.index(rank)
    assert dist.get_world_size(mine) == len(members)
    # Group ranks vs global ranks: broadcast from the group's last member, by global rank.
    t = contribution(rank, 8, torch.int64)
    dist.broadcast(t, src=members[-1], group=mine)
    assert_equal(t, contribution(members[-1], 8, torch.int64), "broadcast in a subgroup")
    # The world group still works, interleaved with subgroup ops.
    t = contribution(rank, 4, torch.int32)
    w = dist.all_reduce(t, async_op=True)
    u = contribution(rank, 4, torch.int32)
    dist.all_reduce(u, group=mine, op=dist.ReduceOp.MAX)
    w.wait()
    assert_equal(t, reduce_ref([contribution(r, 4, torch.int32) for r in range(world)],
                               dist.ReduceOp.SUM), "world all_reduce beside a subgroup")
    # A group of one rank.
    solo = [dist.new_group([r]) for r in range(world)][rank]
    t = contribution(rank, 3, torch.float32)
    dist.all_reduce(t, group=solo)
    assert_equal(t, contribution(rank, 3, torch.float32), "all_reduce in a group of one")
    # new_subgroups (used by hybrid-sharding setups).
    sub, _ = dist.new_subgroups(group_size=2)
    t = contribution(rank, 6, torch.float64)
    dist.all_reduce(t, group=sub)
    pair = [rank - rank % 2, rank - rank % 2 + 1]
    want = reduce_ref([contribution(r, 6, torch.float64) for r in pair], dist.ReduceOp.SUM)
    assert_equal(t, want, "all_reduce in new_subgroups")
    # A group destroyed while an op with a chained future is in flight: the op and its
    # callback still complete.
    t = contribution(rank, 1 << 16, torch.float32)
    chained = dist.all_reduce(t, group=sub, async_op=True).get_future().then(
        lambda f: f.value()[0].sum().item())
    for g in (evens, odds, sub):
        if g is not None and g != dist.GroupMember.NON_GROUP_MEMBER:
            dist.destroy_process_group(g)
    want = reduce_ref([contribution(r, 1 << 16, torch.float32) for r in pair], dist.ReduceOp.SUM)
    assert chained.wait() == want.sum().item(), "future of an op on a destroyed group"


def backend_name(rank, world):
    return dist.get_backend()
