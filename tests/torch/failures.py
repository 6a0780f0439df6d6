"""What the ranks of the error tests do (see test_errors.py). Each returns what the test checks:
the text of the exception the op raised, or None when it did not raise."""

import os
import time

import torch
import torch.distributed as dist


def _error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"
    return None


def mismatched_shapes(rank, world):
    t = torch.ones(8 + 8 * rank)
    return _error_of(lambda: dist.all_reduce(t))


def mismatched_shapes_async(rank, world):
    t = torch.ones(4 + rank)
    fut = dist.all_reduce(t, async_op=True).get_future()
    chained = fut.then(lambda f: f.value()[0] + 1)
    return _error_of(fut.wait), _error_of(chained.wait)


def dead_rank(rank, world):
    dist.barrier()
    if rank == world - 1:
        os._exit(7)  # dies without a word to anyone
    t = torch.ones(1000)
    return _error_of(lambda: [dist.all_reduce(t) for _ in range(1000)])


def late_rank(rank, world, sleep_s):
    dist.barrier()
    if rank == world - 1:
        time.sleep(sleep_s)  # never calls the all_reduce the others wait in
        return None
    return _error_of(lambda: dist.all_reduce(torch.ones(10)))


def tag_mismatch(rank, world):
    t = torch.ones(3)
    if rank == 0:
        return _error_of(lambda: dist.send(t, 1, tag=1))
    return _error_of(lambda: dist.recv(t, 0, tag=2))


def bad_splits_then_ok(rank, world):
    """A call rejected on the calling rank sends nothing: the group stays usable."""
    inp, out = torch.ones(world * 2), torch.empty(world * 2)
    err = _error_of(lambda: dist.all_to_all_single(out, inp, [2] * world, [1] * world))
    t = torch.ones(5)
    dist.all_reduce(t)
    assert torch.equal(t, torch.full((5,), float(world))), t
    return err
