"""Every torch.distributed op through the railcc backend, on 4 ranks, against references each
rank computes locally (see checks.py)."""

import pytest

import checks

REDUCE_TYPES = [str(t).removeprefix("torch.") for t in checks.REDUCE_TYPES]
ALL_TYPES = REDUCE_TYPES + [str(t).removeprefix("torch.") for t in checks.MOVE_ONLY_TYPES]


def test_backend_is_railcc(world4):
    assert world4.run(checks.backend_name) == ["railcc"] * 4


@pytest.mark.parametrize("dtype", REDUCE_TYPES)
def test_all_reduce(world4, dtype):
    world4.run(checks.all_reduce, dtype)


def test_all_reduce_views_and_premul_sum(world4):
    world4.run(checks.all_reduce_shapes)


def test_all_reduce_coalesced(world4):
    world4.run(checks.all_reduce_coalesced)


@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_all_gather(world4, dtype):
    world4.run(checks.all_gather, dtype)


@pytest.mark.parametrize("dtype", REDUCE_TYPES)
def test_reduce_scatter(world4, dtype):
    world4.run(checks.reduce_scatter, dtype)


@pytest.mark.parametrize("dtype", ALL_TYPES)
def test_broadcast_and_reduce(world4, dtype):
    world4.run(checks.broadcast_reduce, dtype)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int16", "int64"])
def test_gather_scatter(world4, dtype):
    world4.run(checks.gather_scatter, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8", "complex64"])
def test_all_to_all(world4, dtype):
    world4.run(checks.all_to_all, dtype)


def test_send_recv(world4):
    world4.run(checks.send_recv)


def test_barrier(world4):
    world4.run(checks.barrier)


def test_async_work_and_futures(world4):
    world4.run(checks.async_futures)


def test_new_group(world4):
    world4.run(checks.new_groups)
