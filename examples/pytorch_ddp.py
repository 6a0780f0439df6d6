"""Trains a small model with DistributedDataParallel on CPU and prints the loss.

    .venv/bin/torchrun --standalone --nproc-per-node 4 examples/pytorch_ddp.py --backend railcc
    .venv/bin/torchrun --standalone --nproc-per-node 4 examples/pytorch_ddp.py --backend gloo

Both backends print the same losses for the same --seed: every rank starts from the same model,
draws its own shard of a synthetic regression task, and DDP averages the gradients.
"""

import argparse

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["railcc", "gloo"], default="railcc")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=64, help="samples per rank and step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--print-every", type=int, default=10)
    return p.parse_args()


def main():
    args = parse_args()
    if args.backend == "railcc":
        import railcc  # noqa: F401  (registers the "railcc" backend)
    dist.init_process_group(args.backend)  # env:// as set by torchrun
    rank, world = dist.get_rank(), dist.get_world_size()

    torch.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    target = 0.25 * torch.randn(16, 1)  # the task: y = sin(x @ target)
    ddp = DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)

    data = torch.Generator().manual_seed(args.seed * 1000 + 1 + rank)
    for step in range(args.steps):
        x = torch.randn(args.batch, 16, generator=data)
        loss = F.mse_loss(ddp(x), torch.sin(x @ target))
        opt.zero_grad()
        loss.backward()  # DDP all_reduces the gradients here, bucket by bucket
        opt.step()

        mean = loss.detach().clone()
        dist.all_reduce(mean)  # SUM: gloo has no AVG
        mean /= world
        if rank == 0 and (step % args.print_every == 0 or step == args.steps - 1):
            print(f"step {step:4d} loss {mean.item():.6f}", flush=True)

    if rank == 0:
        print(f"backend {args.backend}: {world} ranks, {args.steps} steps", flush=True)
    # Everyone is done before anyone tears down: torch 2.15's gloo backend sometimes aborts
    # ("terminate called without an active exception") when a peer destroys its group first.
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
