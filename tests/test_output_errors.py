"""Every command's error contract when it cannot write (errors.OutputError, entry_point): a
full disk, a read-only file system, a missing or blocked parent, no permission: one
`optkit: cannot write: <path>: <reason>` line and exit status 4, never a traceback, and the
last good checkpoint stays loadable; bad output arguments are one config error line (exit
2) before any work; a closed stdout ends quietly (141).

Full and read-only file systems are real: small tmpfs mounts (root only; skipped with the
reason where the kernel refuses). Root ignores file permissions, so the permission case
runs only for other users."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optkit.errors import EXIT_BROKEN_PIPE, EXIT_OUTPUT, OutputError, writing
from tests.conftest import REPO, run_train

QUICK = ["model=mlp", "trainer.max_iters=3", "trainer.device=cpu", "logging.tensorboard=false",
         "logging.progress=false"]
FIXTURE = "tests/fixtures/mmcv_configs/tutorial_cyclic.py"


@pytest.fixture
def mount(tmp_path):
    """`mount(options)`: a new tmpfs directory mounted with those options."""
    mounted: list[Path] = []

    def make(options: str) -> Path:
        directory = tmp_path / f"mnt{len(mounted)}"
        directory.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], capture_output=True,
                              text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root and a kernel that allows it): {done.stderr.strip()}")
        mounted.append(directory)
        return directory

    yield make
    for directory in mounted:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> None:
    """Use up every byte of a file system."""
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(bytes(1 << 16))
                f.flush()
        except OSError:
            pass


def remount_read_only(directory: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def test_writing_names_the_file_and_the_reason(tmp_path):
    with pytest.raises(OutputError) as err:
        with writing(tmp_path / "a.json"):
            (tmp_path / "missing" / "a.json").write_text("{}")
    assert err.value.message() == f"{tmp_path / 'missing' / 'a.json'}: No such file or directory"
    assert err.value.exit_code == EXIT_OUTPUT == 4


@pytest.mark.slow
@pytest.mark.parametrize("where", ["read_only", "full", "parent_is_a_file"])
def test_a_run_directory_that_cannot_be_written_is_one_line_before_hydra(mount, tmp_path, where):
    reason = {"read_only": "Read-only file system", "full": "No space left on device",
              "parent_is_a_file": "Not a directory"}[where]
    if where == "read_only":
        run_dir = mount("ro,size=1m") / "run"
    elif where == "full":
        run_dir = mount("size=256k") / "run"
        fill(run_dir.parent)
    else:
        (tmp_path / "file").write_text("")
        run_dir = tmp_path / "file" / "run"
    out = run_train([*QUICK, f"hydra.run.dir={run_dir}"])
    assert out.returncode == EXIT_OUTPUT
    line = one_line(out)
    assert line.startswith(f"optkit: cannot write: {run_dir}") and line.endswith(reason), line
    assert not (run_dir / ".hydra").exists()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions (the read-only mount covers this)")
def test_a_run_directory_without_permission_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    out = run_train([*QUICK, f"hydra.run.dir={locked / 'run'}"])
    assert out.returncode == EXIT_OUTPUT and one_line(out).endswith("Permission denied")


@pytest.mark.slow
def test_a_full_disk_while_training_keeps_the_last_good_checkpoint(mount):
    """A checkpoint every step on a file system with room for the first two: the third
    write fails, the run stops with one line naming last.pt, and last.pt still loads."""
    run_dir = mount("size=1600k") / "run"
    args = [*QUICK, "trainer.max_iters=50", "trainer.ckpt_every=1", "trainer.ckpt_by_epoch=false",
            f"hydra.run.dir={run_dir}"]
    out = run_train(args)
    assert out.returncode == EXIT_OUTPUT, out.stderr
    assert one_line(out) == f"optkit: cannot write: {run_dir / 'last.pt'}: No space left on device"
    state = torch.load(run_dir / "last.pt", weights_only=True)
    assert 1 <= state["progress"]["step"] < 50
    assert not list(run_dir.glob(".*.tmp"))


@pytest.fixture(scope="module")
def single_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("single") / "run"
    assert run_train([*QUICK, f"hydra.run.dir={run_dir}"]).returncode == 0
    return run_dir


# (tool, its arguments; {ro}: a read-only directory, {tmp}: a writable one, {run}: a finished
# single run), exit status, what stderr's one line holds (None: stderr empty)
TOOLS = {
    "plot_lr_missing_dir": ("scripts/plot_lr.py", ["out=/missing/dir/lr.png"], 2,
                            "optkit: config error: out: no such directory (got '/missing/dir')"),
    "plot_lr_empty_out": ("scripts/plot_lr.py", ["out="], 2, "optkit: config error: out: must name a file (got '')"),
    "plot_lr_read_only": ("scripts/plot_lr.py", ["out={ro}/lr.png"], 4,
                          "optkit: cannot write: {ro}/lr.png: Read-only file system"),
    "plot_lr_json_read_only": ("scripts/plot_lr.py", ["out={tmp}/lr.png", "json={ro}/lr.json"], 4,
                               "optkit: cannot write: {ro}/lr.json: Read-only file system"),
    "lr_find_read_only": ("scripts/lr_find.py", ["model=mlp", "num_iters=5", "out={ro}/f.png"], 4,
                          "optkit: cannot write: {ro}/f.png: Read-only file system"),
    "lr_find_missing_dir": ("scripts/lr_find.py", ["out=/missing/f.png"], 2,
                            "optkit: config error: out: no such directory (got '/missing')"),
    "from_mmcv_binary": ("scripts/from_mmcv.py", ["{tmp}/binary.py"], 2,
                         "optkit-from-mmcv: error: {tmp}/binary.py: not a text file (invalid UTF-8 at byte 128)"),
    "from_mmcv_read_only": ("scripts/from_mmcv.py", [FIXTURE, "-o", "{ro}/x.yaml"], 4,
                            "optkit: cannot write: {ro}/x.yaml: Read-only file system"),
    "sweep_summary_single_run": ("scripts/sweep_summary.py", ["{run}"], 0, None),
    "sweep_summary_read_only": ("scripts/sweep_summary.py", ["{run}", "--csv", "{ro}/s.csv"], 4,
                                "optkit: cannot write: {ro}/s.csv: Read-only file system"),
    "train_bad_run_dir": ("train.py", [*QUICK, "hydra.run.dir={ro}/run"], 4,
                          "optkit: cannot write: {ro}/run: Read-only file system"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", TOOLS)
def test_every_tool_has_the_error_contract(mount, tmp_path, single_run, case):
    script, args, status, expected = TOOLS[case]
    places = {"ro": str(mount("ro,size=64k")), "tmp": str(tmp_path), "run": str(single_run)}
    (tmp_path / "binary.py").write_bytes(bytes(range(256)))
    out = run_train([arg.format(**places) for arg in args], script=script)
    assert out.returncode == status, out.stderr
    if expected is None:
        assert "Traceback" not in out.stderr
    else:
        assert one_line(out) == expected.format(**places)
    if case == "sweep_summary_single_run":
        assert "0    -          done" in out.stdout and (single_run / "summary.csv").exists()


@pytest.mark.slow
def test_help_into_a_closed_pipe_ends_quietly():
    """`python train.py --help | head`: the reader is gone before the help is written."""
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "--help"], stdout=write, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    os.close(write)
    assert done.returncode == EXIT_BROKEN_PIPE and done.stderr == ""
