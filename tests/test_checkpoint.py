"""Atomic writes, weights_only loads, fallback from a corrupt last.pt, RNG round trip."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from optkit import checkpoint
from optkit.errors import CheckpointError, ConfigError


def test_save_last_keeps_the_previous_one(tmp_path):
    checkpoint.save_last({"v": torch.tensor(1)}, tmp_path)
    checkpoint.save_last({"v": torch.tensor(2)}, tmp_path)
    assert checkpoint.load(tmp_path / "last.pt")["v"].item() == 2
    assert checkpoint.load(tmp_path / "prev.pt")["v"].item() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "prev.pt"]


def test_truncated_last_falls_back_to_prev(tmp_path, capsys):
    checkpoint.save_last({"v": torch.tensor(1)}, tmp_path)
    checkpoint.save_last({"v": torch.tensor(2)}, tmp_path)
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "last.pt").write_bytes(data[: len(data) // 2])
    path, state = checkpoint.load_latest(tmp_path)
    assert path.name == "prev.pt" and state["v"].item() == 1
    assert "last.pt: cannot be loaded" in capsys.readouterr().err


def test_loading_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "evil.pt")


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    checkpoint.atomic_save({"rng": checkpoint.rng_state()}, tmp_path / "s.pt")
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(99)
    random.seed(99)
    np.random.seed(99)
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "s.pt")["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1] and np.random.rand() == expected[2]


def test_no_temporary_file_is_left_when_saving_fails(tmp_path):
    with pytest.raises(Exception):
        checkpoint.atomic_save({"x": lambda: 0}, tmp_path / "bad.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_inside_torch_save_stays_a_ctrl_c_and_keeps_the_old_file(tmp_path, monkeypatch):
    """torch.save turns an interrupt in a write into its own RuntimeError; the second Ctrl-C
    must still end the run as a Ctrl-C (exit 130), with the last good file in place."""
    checkpoint.atomic_save({"v": torch.tensor(1)}, tmp_path / "last.pt")
    writes = []

    def interrupted_write(self, data):
        writes.append(len(data))
        if len(writes) == 3:
            raise KeyboardInterrupt
        return self.f.write(data)

    monkeypatch.setattr(checkpoint.RecordingFile, "write", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.atomic_save({"v": torch.zeros(1000), "w": torch.zeros(1000)}, tmp_path / "last.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "last.pt")["v"].item() == 1


def corrupt(path):
    data = path.read_bytes()
    path.unlink()  # a new inode: prev.pt may be a hard link to the old one
    path.write_bytes(data[: len(data) // 2])


def test_a_corrupt_last_is_set_aside_so_the_next_save_keeps_the_good_prev(tmp_path, capsys):
    checkpoint.save_last({"v": torch.tensor(1)}, tmp_path)
    checkpoint.save_last({"v": torch.tensor(2)}, tmp_path)
    corrupt(tmp_path / "last.pt")
    path, state = checkpoint.load_latest(tmp_path)
    assert path.name == "prev.pt" and state["v"].item() == 1
    assert (tmp_path / "last.pt.corrupt").exists() and not (tmp_path / "last.pt").exists()
    checkpoint.save_last({"v": torch.tensor(3)}, tmp_path)
    assert checkpoint.load(tmp_path / "prev.pt")["v"].item() == 1  # not the corrupt one
    assert checkpoint.load(tmp_path / "last.pt")["v"].item() == 3


def test_when_no_checkpoint_loads_resuming_refuses_to_start_afresh_over_them(tmp_path, capsys):
    checkpoint.save_last({"v": torch.tensor(1)}, tmp_path)
    checkpoint.save_last({"v": torch.tensor(2)}, tmp_path)
    corrupt(tmp_path / "last.pt")
    corrupt(tmp_path / "prev.pt")
    with pytest.raises(ConfigError) as err:
        checkpoint.load_latest(tmp_path)
    assert err.value.key == "trainer.resume" and "last.pt, prev.pt corrupt" in err.value.message()
    assert len(capsys.readouterr().err.strip().splitlines()) == 2  # one line per unreadable file


def test_temporaries_of_an_interrupted_write_are_removed_on_resume(tmp_path):
    checkpoint.save_last({"v": torch.tensor(1)}, tmp_path)
    (tmp_path / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    assert checkpoint.load_latest(tmp_path)[1]["v"].item() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_no_directory_means_a_fresh_start(tmp_path):
    assert checkpoint.load_latest(tmp_path / "missing") is None


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_another_runs_directory_is_only_read(tmp_path, capsys):
    """Its `.tmp` may be a write in progress and its corrupt `last.pt` is that run's to set
    aside: reading it as `trainer.resume=PATH` deletes, renames and writes nothing there."""
    other = tmp_path / "other"
    checkpoint.save_last({"v": torch.tensor(1)}, other)
    checkpoint.save_last({"v": torch.tensor(2)}, other)
    corrupt(other / "last.pt")
    (other / ".last.pt.abc123.tmp").write_bytes(b"a write in progress")
    before = snapshot(other)
    path, state = checkpoint.load_latest(other, own=False)
    assert path.name == "prev.pt" and state["v"].item() == 1
    assert snapshot(other) == before
