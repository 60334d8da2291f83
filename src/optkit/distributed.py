"""torchrun / SLURM `srun` environments → one DDP process group.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; an `srun` step with
several tasks sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID (the master address is then the
first node of SLURM_JOB_NODELIST, the port derived from the job id). A plain `python
train.py` (and a single-task SLURM job, as submitit launches sweeps) is one process.

What the rest of optkit does with several processes (docs/sweeps.md has the long form):
each rank trains on a strided shard of the epoch's order (`data.shard`), so W ranks × b
samples make up exactly the single-process batch of W·b; steps per epoch count a rank's
shard, so schedules and accumulation windows are those of the single process. Only rank
0 writes (logs, checkpoints, `.hydra/`); every rank resumes from the same `last.pt`.
The logged train loss is averaged over ranks (`mean_over_ranks`, at log steps only);
each rank validates a contiguous share of the validation split and the metric sums are
added over the ranks (`sum_over_ranks`), which gives the single-process numbers. The
ranks share rank 0's Hydra run directory (`cli.shared_output_dir`) and stop together on a
signal (`preempt.StopRequest`).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
from dataclasses import dataclass
from typing import Any, ContextManager

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def detect(env: dict[str, str] | None = None) -> DistInfo:
    env = dict(os.environ if env is None else env)
    if "RANK" in env and "WORLD_SIZE" in env:
        return DistInfo(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in env and "SLURM_STEP_ID" in env:
        return DistInfo(int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0)))
    return DistInfo()


def slurm_master_addr(nodelist: str) -> str:
    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True)
        return out.stdout.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "127.0.0.1"


def init(info: DistInfo) -> None:
    """Join the process group when there is more than one process: gloo for CPU tensors,
    and NCCL for CUDA tensors where CUDA is available (one group serves both, so small
    host-side agreements such as `preempt.StopRequest` never sync the GPU). Called before
    Hydra starts (the ranks agree on the run directory, see `cli.shared_output_dir`) and
    again by `train.run`, where it is a no-op."""
    if not info.enabled or dist.is_initialized():
        return
    if "MASTER_ADDR" not in os.environ:
        os.environ["MASTER_ADDR"] = slurm_master_addr(os.environ.get("SLURM_JOB_NODELIST", "127.0.0.1"))
        os.environ["MASTER_PORT"] = str(20000 + int(os.environ.get("SLURM_JOB_ID", "0")) % 20000)
    backend = "gloo"
    if torch.cuda.is_available() and dist.is_nccl_available():
        torch.cuda.set_device(info.local_rank)
        backend = "cpu:gloo,cuda:nccl"
    dist.init_process_group(backend, rank=info.rank, world_size=info.world_size)


def broadcast(value: Any, info: DistInfo) -> Any:
    """Rank 0's `value` (any picklable object) on every rank."""
    if not info.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_ranks(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of a per-rank scalar over all ranks (ranks hold equally many samples)."""
    return sum_over_ranks(value, info) / info.world_size if info.enabled else value


def sum_over_ranks(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The sum of a per-rank tensor over all ranks (validation's metric sums)."""
    if not info.enabled:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total


def wrap(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    if not info.enabled:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def no_sync(model: nn.Module) -> ContextManager:
    """Skip DDP's gradient all-reduce (every micro-batch of a window but the last)."""
    return model.no_sync() if isinstance(model, nn.parallel.DistributedDataParallel) else contextlib.nullcontext()


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group when the process exits, once a run ended on every rank.

    Not at once: gloo's worker threads may still be releasing the last backward pass's
    all-reduce work, whose captured thread-local state holds a Python object (torch
    stashes a context there during backward), while destroying the group joins those
    threads with the GIL held; the worker then waits for the GIL forever (seen: a DDP rank
    hung at the end of a run, main thread in ~ProcessGroupGloo → thread::join, worker in
    ~AsyncWork → gil_scoped_acquire). At exit the workers are idle. A later run in the
    same process reuses the group (`init` is then a no-op). After an error or a
    preemption nothing is registered: destroying a group while a peer may be gone can
    hang too (pytorch/pytorch#75097), and the process is about to end anyway."""
    if info.enabled and dist.is_initialized():
        atexit.unregister(leave_process_group)
        atexit.register(leave_process_group)


def leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
