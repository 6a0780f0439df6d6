"""all_reduce of 1 MiB - 64 MiB float32 tensors through railcc and gloo in the same job.

    .venv/bin/torchrun --standalone --nproc-per-node 4 bench/torch_compare.py

The default group is railcc's, a second group over the same ranks is gloo's. For each size the
timed loops alternate between them (railcc, gloo, railcc, gloo, ...), so both see the same
machine. A time is the mean of --iters calls, the best of --reps (10) such loops (the least
disturbed by other load), the slowest rank's. Bus bandwidth is nccl-tests': size / time * 2 (n - 1) / n.
"""

import argparse
import os
import time

import torch
import torch.distributed as dist

import railcc  # noqa: F401  (registers the "railcc" backend)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--min-mib", type=int, default=1)
    p.add_argument("--max-mib", type=int, default=64)
    p.add_argument("--iters", type=int, default=0, help="calls per timed loop (0: by size)")
    p.add_argument("--reps", type=int, default=10, help="timed loops per size and backend")
    p.add_argument("--warmup", type=int, default=2)
    return p.parse_args()


def loop_seconds(t, group, iters):
    dist.barrier(group=group)
    start = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(t, group=group)
    return (time.perf_counter() - start) / iters


def slowest_rank(seconds):
    t = torch.tensor([seconds], dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)  # on railcc's default group
    return t.item()


def main():
    args = parse_args()
    # With more ranks than cores, railcc's straggler warnings would interleave with the table.
    os.environ.setdefault("RAILCC_LOG_LEVEL", "error")
    dist.init_process_group("railcc")
    gloo = dist.new_group(backend="gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    groups = {"railcc": None, "gloo": gloo}
    if rank == 0:
        print(f"# all_reduce float32 sum, {world} ranks, torch {torch.__version__}")
        print(f"# {'size':>8} {'railcc ms':>10} {'gloo ms':>10} {'railcc GB/s':>12} "
              f"{'gloo GB/s':>10} {'railcc/gloo':>12}")
    mib = args.min_mib
    while mib <= args.max_mib:
        n = mib * (1 << 20) // 4
        tensors = {}
        for name, group in groups.items():
            t = torch.ones(n)
            dist.all_reduce(t, group=group)  # checked once: every element must be `world`
            if not torch.equal(t, torch.full_like(t, float(world))):
                raise SystemExit(f"{name}: wrong all_reduce result at {mib} MiB")
            t.zero_()  # zeros stay zeros: no overflow whatever the iteration count
            for _ in range(args.warmup):
                dist.all_reduce(t, group=group)
            tensors[name] = t
        iters = args.iters or max(3, 64 // mib)
        best = {name: float("inf") for name in groups}
        for _ in range(args.reps):
            for name, group in groups.items():
                best[name] = min(best[name], loop_seconds(tensors[name], group, iters))
        times = {name: slowest_rank(s) for name, s in best.items()}
        if rank == 0:
            bus = {k: mib * (1 << 20) / v * 2 * (world - 1) / world / 1e9 for k, v in times.items()}
            print(f"  {mib:>5}MiB {times['railcc'] * 1e3:>10.2f} {times['gloo'] * 1e3:>10.2f} "
                  f"{bus['railcc']:>12.2f} {bus['gloo']:>10.2f} "
                  f"{times['gloo'] / times['railcc']:>11.2f}x", flush=True)
        mib *= 2
    # All done before teardown: torch's gloo backend may abort when a peer destroys its group
    # first (see examples/pytorch_ddp.py).
    dist.barrier(group=gloo)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
