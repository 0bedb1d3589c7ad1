"""The journal file stays readable when a write is cut short: a torn last line is dropped
(with a warning) before the next append, and an append that fails takes its partial line
back."""

from __future__ import annotations

import errno
import json

import optuna
import pytest

from resnet_nas.journal import file_backend as journal_file
from resnet_nas.journal.file_backend import JournalRepairWarning
from resnet_nas.errors import DiskFullError
from resnet_nas.storage import open_storage
from tests.distributed.conftest import journal_url


def _study(url, name="s"):
    storage = open_storage(url, heartbeat=False)
    return optuna.create_study(study_name=name, storage=storage, load_if_exists=True)


def test_a_torn_last_line_is_dropped_with_a_warning_and_never_appended_onto(tmp_path):
    url = journal_url(tmp_path)
    path = tmp_path / "study.journal"
    study = _study(url)
    study.tell(study.ask(), 0.5)
    whole = path.read_bytes()
    with open(path, "ab") as f:  # a write the disk could not finish
        f.write(b'{"op_code":5,"worker_id":"x","trial_id":1,"pa')
    with pytest.warns(JournalRepairWarning, match=r"study.journal: its last line was cut off "
                                                  r"\(45 bytes"):
        study = _study(url)  # opening repairs it
    assert path.read_bytes().startswith(whole) and b'"pa' not in path.read_bytes()
    study.tell(study.ask(), 0.7)
    lines = path.read_bytes().splitlines()
    assert all(json.loads(line) for line in lines)  # every line whole
    assert [t.value for t in _study(url).trials] == [0.5, 0.7]


def test_a_failed_append_takes_its_partial_line_back(tmp_path, monkeypatch):
    url = journal_url(tmp_path)
    path = tmp_path / "study.journal"
    study = _study(url)
    trial = study.ask()
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_file.os, "fsync", full)
    with pytest.raises(DiskFullError, match="no space left on the device of .*study.journal"):
        study.tell(trial, 0.5)
    monkeypatch.undo()
    assert path.read_bytes() == before
    again = _study(url)  # after space is freed: the study goes on
    again.tell(again.trials[0].number, 0.5)
    assert [t.value for t in _study(url).trials] == [0.5]
