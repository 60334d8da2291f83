"""Host memory: glibc keeps freed blocks for the next step instead of giving them back.

A CPU training step allocates and frees the same activation buffers (megabytes each) every
step. glibc's default serves such sizes with fresh `mmap`s or trims them off the heap top
when freed, so every step faults the same memory in again, page by page: on SmallCNN with
32×32 inputs that was 2–5 million page faults and 3–8 s of system time per 78-step epoch,
and its epoch time moved by ±25 % between identical runs. Fixed thresholds (what the
`MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` environment variables set, here through
`mallopt` because they are read at process start) keep those blocks in the heap for reuse:
10× fewer faults, the epoch 20–35 % faster and steady (docs/benchmarks.md, bench_data).
The cost is that memory freed late in a run stays with the process; its peak does not grow.
DataLoader workers forked afterwards inherit the setting. Other C libraries (macOS, musl)
are left as they are.
"""
from __future__ import annotations

import ctypes
import functools

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit); larger blocks stay mmap'd
TRIM_THRESHOLD = 1 << 30


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds once per process; False where libc is not glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
