"""Run under torchrun: each rank evaluates its share of 1001 validation samples (in memory
and streamed); rank 0 writes the reduced metrics as JSON to argv[1]."""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optkit import distributed  # noqa: E402
from tests.test_data_stream_ddp import evaluated  # noqa: E402

info = distributed.detect()
distributed.init(info)
metrics = evaluated(info)
if info.is_main:
    Path(sys.argv[1]).write_text(json.dumps(metrics))
distributed.barrier(info)
with contextlib.suppress(Exception):
    distributed.leave_process_group()
