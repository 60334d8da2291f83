"""What `python train.py` shows in a terminal when the run ends: the progress bar at 100 %,
then one summary line (best val/acc and its epoch, wall time, the run directory and what it
holds, the tensorboard command). Run on a pseudo-terminal, as a user sees it."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from optkit.logging import summary_line
from tests.conftest import REPO


def on_a_terminal(args: list[str], cwd) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 rows, 120 columns
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=300) == 0, out.decode()[-2000:]
    return out.decode()


@pytest.mark.slow
def test_the_bar_ends_at_100_percent_then_one_summary_line(tmp_path):
    """log_every=7 does not divide the 69 steps: the bar was last redrawn at step 63."""
    out = on_a_terminal(["model=mlp", "trainer.max_epochs=3", "logging.log_every=7", "hydra.run.dir=run"], tmp_path)
    frames = re.split(r"[\r\n]+", out)
    bars = [f for f in frames if re.search(r"\d+/69", f)]
    assert bars and "100%" in bars[-1] and "69/69" in bars[-1]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    vals = [r for r in records if r["kind"] == "val"]
    best = max(range(len(vals)), key=lambda i: vals[i]["val/acc"])
    last = [f for f in frames if f.strip()][-1]
    match = re.fullmatch(r"optkit: best val/acc ([0-9.]+) at epoch (\d+), ([0-9.]+) s; run holds "
                         r"best\.pt, last\.pt, (prev\.pt, )?metrics\.jsonl, tb/ \(tensorboard --logdir run\)", last)
    assert match, last
    assert float(match[1]) == pytest.approx(vals[best]["val/acc"], abs=5e-5) and int(match[2]) == best + 1
    assert 0 < float(match[3]) < records[-1]["time"] - records[0]["time"] + 60


@pytest.mark.parametrize("files,best,expect", [
    (["last.pt", "metrics.jsonl"], None, "optkit: no evaluation, 2.0 s; {d} holds last.pt, metrics.jsonl"),
    (["prev.pt", "best.pt", "last.pt", "metrics.jsonl", "tb/", ".hydra/"], 0.5, "optkit: best val/acc 0.5000 at "
     "epoch 4, 2.0 s; {d} holds best.pt, last.pt, prev.pt, metrics.jsonl, tb/ (tensorboard --logdir {d})"),
])
def test_summary_line(tmp_path, files, best, expect):
    for name in files:
        (tmp_path / name.rstrip("/")).mkdir() if name.endswith("/") else (tmp_path / name).write_text("")
    assert summary_line(tmp_path, "val/acc", best, 4, 2.0) == expect.format(d=tmp_path)
