"""railcc as a torch.distributed process-group backend.

``import railcc`` registers the backend name ``"railcc"`` for CPU tensors; then
``torch.distributed.init_process_group("railcc")`` (or ``new_group(backend="railcc")``) runs the
group's collectives through railcc. Rendezvous goes through the store torch creates (torchrun,
``env://``, ``tcp://``, ``file://``), so no railcc variables are needed; ``RAILCC_*`` settings
(see the README) still apply, except the timeout, which comes from ``init_process_group``.
"""

import torch  # noqa: F401  (loads libtorch before the extension that links against it)
import torch.distributed as dist

from . import _C

__all__ = ["BACKEND_NAME", "version"]

BACKEND_NAME = "railcc"


def version() -> str:
    """Version of the railcc library built into the extension."""
    return _C.version()


def _create_backend(store, rank, world_size, timeout):
    return _C.create_backend(store, rank, world_size, timeout)


if BACKEND_NAME.upper() not in dist.Backend._plugins:
    dist.Backend.register_backend(BACKEND_NAME, _create_backend, devices=["cpu"])
