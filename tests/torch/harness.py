"""Runs functions on several ranks of a torch.distributed job, each rank a spawned process.

``World`` keeps its ranks (and their process group) alive across calls, so the many small op
tests pay for starting torch once; ``run_job`` starts a fresh job for one function (the error
tests, which break their group). Neither lets a rank hang a test: every wait has a deadline and
ranks still running past it are killed.
"""

import datetime
import multiprocessing
import os
import queue
import socket
import time
import traceback

# Ranks outnumber the 2 cores of CI machines: one compute thread per rank.
CHILD_ENV = {"OMP_NUM_THREADS": "1"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _init(rank, world, port, backend, timeout_s):
    import torch
    import torch.distributed as dist

    import railcc  # noqa: F401  (registers the backend)

    torch.set_num_threads(1)
    dist.init_process_group(
        backend,
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=timeout_s),
    )


def _serve(rank, world, port, backend, timeout_s, env, commands, results):
    os.environ.update(env)
    try:
        _init(rank, world, port, backend, timeout_s)
    except BaseException:
        results.put((rank, False, traceback.format_exc()))
        return
    results.put((rank, True, None))
    while True:
        item = commands.get()
        if item is None:
            break
        fn, args = item
        try:
            results.put((rank, True, fn(rank, world, *args)))
        except BaseException:
            results.put((rank, False, traceback.format_exc()))
    import torch.distributed as dist

    dist.destroy_process_group()


def _collect(results, procs, deadline_s, what):
    """One result per process, or an AssertionError naming who failed or was late."""
    out = {}
    end = time.monotonic() + deadline_s
    while len(out) < len(procs):
        try:
            rank, ok, value = results.get(timeout=max(0.1, min(1.0, end - time.monotonic())))
            out[rank] = (ok, value)
            continue
        except queue.Empty:
            pass
        dead = [r for r, p in enumerate(procs) if r not in out and not p.is_alive()]
        if dead or time.monotonic() > end:
            for p in procs:
                if p.is_alive():
                    p.kill()
            late = [r for r in range(len(procs)) if r not in out]
            raise AssertionError(
                f"{what}: ranks {late} did not answer within {deadline_s}s "
                f"(exit codes {[procs[r].exitcode for r in late]}); others: {out}"
            )
    return out


class World:
    """``size`` ranks in one process group, serving calls until closed."""

    def __init__(self, size, backend="railcc", timeout_s=60, env=None):
        ctx = multiprocessing.get_context("spawn")
        port = free_port()
        self.size = size
        self._results = ctx.Queue()
        self._commands = [ctx.Queue() for _ in range(size)]
        self._procs = [
            ctx.Process(
                target=_serve,
                args=(r, size, port, backend, timeout_s, {**CHILD_ENV, **(env or {})},
                      self._commands[r], self._results),
                daemon=True,
            )
            for r in range(size)
        ]
        for p in self._procs:
            p.start()
        self._check(_collect(self._results, self._procs, 120, "init_process_group"))

    def run(self, fn, *args, deadline_s=120):
        """fn(rank, world, *args) on every rank; returns the per-rank results."""
        for q in self._commands:
            q.put((fn, args))
        return self._check(_collect(self._results, self._procs, deadline_s, fn.__name__))

    def close(self):
        for q in self._commands:
            q.put(None)
        for p in self._procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()

    @staticmethod
    def _check(out):
        failed = {r: v for r, (ok, v) in out.items() if not ok}
        if failed:
            raise AssertionError(
                "\n".join(f"--- rank {r} failed:\n{tb}" for r, tb in sorted(failed.items()))
            )
        return [out[r][1] for r in sorted(out)]


def _once(rank, world, port, backend, timeout_s, env, fn, args, results):
    os.environ.update(env)
    try:
        _init(rank, world, port, backend, timeout_s)
        results.put((rank, True, fn(rank, world, *args)))
    except BaseException as e:  # noqa: BLE001  (the test inspects it)
        results.put((rank, False, f"{type(e).__name__}: {e}"))


def run_job(fn, size, *args, timeout_s=60, deadline_s=120, env=None, backend="railcc"):
    """A fresh job: fn(rank, world, *args) on every rank after init_process_group.

    Returns ``[(ok, value_or_error_text)]`` per rank; a rank that exits without answering (on
    purpose, e.g. a simulated crash) reports ``(False, "exited with code N")``.
    """
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_once,
            args=(r, size, port, backend, timeout_s, {**CHILD_ENV, **(env or {})}, fn, args,
                  results),
            daemon=True,
        )
        for r in range(size)
    ]
    for p in procs:
        p.start()
    out = {}
    end = time.monotonic() + deadline_s
    while len(out) < size and time.monotonic() < end:
        try:
            rank, ok, value = results.get(timeout=0.2)
            out[rank] = (ok, value)
        except queue.Empty:
            for r, p in enumerate(procs):
                if r not in out and not p.is_alive() and p.exitcode is not None:
                    # It may have answered just before exiting: drain first.
                    time.sleep(0.2)
                    while True:
                        try:
                            rr, ok, value = results.get_nowait()
                            out[rr] = (ok, value)
                        except queue.Empty:
                            break
                    out.setdefault(r, (False, f"exited with code {p.exitcode}"))
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    missing = [r for r in range(size) if r not in out]
    assert not missing, f"ranks {missing} neither answered nor exited within {deadline_s}s"
    return [out[r] for r in range(size)]
