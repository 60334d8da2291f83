"""glibc keeps freed activation buffers for reuse (optkit.host_memory): the same training
steps fault far fewer pages in than under glibc's default thresholds."""
from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from optkit.host_memory import keep_freed_memory

GLIBC = platform.libc_ver()[0] == "glibc"

STEPS = """
import resource, sys, torch
from optkit.host_memory import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3, padding=1),
                            torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10))
optimizer = torch.optim.AdamW(model.parameters())
for step in range(13):
    if step == 3:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model(torch.randn(64, 3, 32, 32)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_the_thresholds_are_set_once():
    first = keep_freed_memory()
    assert keep_freed_memory() is first
    assert first == GLIBC  # other C libraries are left alone


@pytest.mark.slow  # two fresh processes: the setting is process-wide and cannot be undone
@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_kept_memory_faults_far_fewer_pages_in_per_step():
    faults = {mode: int(subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True,
                                       check=True, timeout=120).stdout)
              for mode in ("default", "kept")}
    assert faults["kept"] * 4 < faults["default"], faults
