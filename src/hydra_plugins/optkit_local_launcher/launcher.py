"""Local sweeps with one GPU per running job (`hydra/launcher=local`).

submitit's local executor gives every job the same `CUDA_VISIBLE_DEVICES` (the first
`gpus_per_node` GPUs), so the jobs of a sweep all crowd onto GPU 0. This launcher keeps one
slot per `gpus_per_node` GPUs, runs at most one job per slot at a time (at most
`max_parallel`, by default as many as there are slots), and starts the next job on a slot as
soon as its job ends. Each job is launched by submitit's own local launcher with a setup
line that exports that slot's GPUs as `CUDA_VISIBLE_DEVICES` (submitit's `visible_gpus`
cannot be set through Hydra's launcher), so its process sees exactly them.

The GPUs are those of `visible_gpus` when set, else those listed in this process's
`CUDA_VISIBLE_DEVICES` (integers), else `range(torch.cuda.device_count())`. With no GPU (or
`gpus_per_node=0`) every job starts at once, as with submitit's launcher.
(No `from __future__ import annotations`: Hydra's plugin scan executes this module without
registering it in sys.modules, where dataclasses look string annotations up.)
"""
import copy
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import Queue
from typing import Any, List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher


@dataclass
class GpuLocalQueueConf(LocalQueueConf):
    _target_: str = "hydra_plugins.optkit_local_launcher.launcher.GpuLocalLauncher"
    gpus_per_node: Optional[int] = 1  # GPUs per job
    visible_gpus: List[int] = field(default_factory=list)  # []: CUDA_VISIBLE_DEVICES, else every GPU torch sees
    max_parallel: Optional[int] = None  # jobs at once; null: one per gpus_per_node GPUs (all at once without GPUs)


ConfigStore.instance().store(group="hydra/launcher", name="optkit_local", node=GpuLocalQueueConf, provider="optkit")


def gpu_ids(visible: Sequence[int], env: Optional[str]) -> List[int]:
    """The GPUs to share out: `visible`, else `env` (CUDA_VISIBLE_DEVICES), else torch's count."""
    if visible:
        return list(visible)
    if env is not None:
        return [int(x) for x in env.split(",") if x.strip()]
    import torch

    return list(range(torch.cuda.device_count()))


def slots(gpus: List[int], per_job: int) -> List[List[int]]:
    return [gpus[i:i + per_job] for i in range(0, len(gpus) - per_job + 1, per_job)] if per_job > 0 else []


class GpuLocalLauncher(LocalLauncher):
    def __init__(self, **params: Any) -> None:
        self.max_parallel = params.pop("max_parallel", None)
        visible = params.pop("visible_gpus", None) or []
        super().__init__(**params)
        self.gpus = list(visible)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        free: Queue = Queue()
        gpus = gpu_ids(self.gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))
        for slot in slots(gpus, self.params.get("gpus_per_node") or 0)[: self.max_parallel]:
            free.put(slot)
        if free.empty():
            return super().launch(job_overrides, initial_job_idx)

        def run(idx: int, overrides: Sequence[str]) -> Any:
            slot = free.get()
            try:
                one = copy.copy(self)
                export = "export CUDA_VISIBLE_DEVICES=" + ",".join(str(gpu) for gpu in slot)
                one.params = {**self.params, "setup": [*self.params.get("setup", []), export]}
                return LocalLauncher.launch(one, [overrides], initial_job_idx + idx)[0]
            finally:
                free.put(slot)

        with ThreadPoolExecutor(max_workers=free.qsize()) as pool:
            return list(pool.map(run, range(len(job_overrides)), job_overrides))
