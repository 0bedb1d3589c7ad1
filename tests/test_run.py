"""The run (resnet_nas.run): typed metadata, storage references, the run directory's lock."""

import json
import os
import subprocess
import sys

import pytest

from resnet_nas.errors import RunBusyError, UsageError
from resnet_nas.lock import RunLock
from resnet_nas.run import (RUN_DIR_TOKEN, Overrides, Resume, Run, latest_run_dir,
                            read_run, resolve_storage, storage_ref)
from resnet_nas.validation import ConfigError
from tests.helpers import REPO


def _run(**kw) -> Run:
    base = dict(run_id="abc", study="s", space="s", space_hash="h", space_sha256="f",
                engine="optuna", sampler="tpe", pruner="median", objectives=("val_accuracy",),
                seed=0, trials=4, storage=f"sqlite:///{RUN_DIR_TOKEN}/study.db",
                created="2026-12-02T00:00:00+00:00")
    return Run(**{**base, **kw})


def test_run_round_trips_through_json():
    run = _run(overrides=Overrides(epochs=3, data="/data"),
               resumes=(Resume(at="t", trials=5, backend="jax"),))
    again = Run.from_dict(json.loads(run.to_json()), "run.json")
    assert again == run and json.loads(run.to_json())["format"] == 2


@pytest.mark.parametrize("change, path", [
    ({"engine": "tensorflow"}, "engine"), ({"trials": 0}, "trials"), ({"seed": -1}, "seed"),
    ({"study": "../x"}, "study"), ({"objectives": []}, "objectives"),
    ({"overrides": {"epochs": 1, "bogus": 2}}, "overrides.bogus"), ({"extra": 1}, "extra"),
])
def test_a_bad_run_json_names_the_key(change, path):
    data = {**json.loads(_run().to_json()), **change}
    with pytest.raises(ConfigError, match=f"run.json: {path}"):
        Run.from_dict(data, "run.json")


def test_run_json_of_an_older_version_is_read(tmp_path):
    old = {"study": "q", "storage": f"sqlite:///{tmp_path}/run/study.db", "space": "q",
           "space_hash": "h", "engine": "optuna", "sampler": "tpe", "pruner": "median",
           "objectives": ["val_accuracy"], "seed": 0, "trials": 6, "created": "t",
           "overrides": {}, "space_source": "/x/q.yaml"}
    run = Run.from_dict(old, "run.json")
    assert run.storage == f"sqlite:///{RUN_DIR_TOKEN}/study.db" and run.run_id == ""


def test_storage_inside_the_run_dir_is_named_relatively(tmp_path):
    run_dir = tmp_path / "run"
    ref = storage_ref(f"sqlite:///{run_dir}/study.db", run_dir)
    assert ref == f"sqlite:///{RUN_DIR_TOKEN}/study.db"
    assert resolve_storage(ref, tmp_path / "moved", None) == \
        f"sqlite:///{(tmp_path / 'moved').resolve()}/study.db"
    journal = storage_ref(f"journal://{run_dir.resolve()}/study.journal", run_dir)
    assert journal == f"journal://{RUN_DIR_TOKEN}/study.journal"
    assert storage_ref(f"sqlite:///{tmp_path}/elsewhere.db", run_dir) == \
        f"sqlite:///{tmp_path.resolve()}/elsewhere.db"


def test_a_redacted_storage_needs_the_full_url_again(tmp_path, monkeypatch):
    url = "postgresql://u:pw@db.example:5432/nas"
    ref = storage_ref(url, tmp_path)
    assert ref == "postgresql://u:***@db.example:5432/nas"
    with pytest.raises(UsageError, match="give its full URL with --storage or"):
        resolve_storage(ref, tmp_path, None)
    assert resolve_storage(ref, tmp_path, url) == url
    with pytest.raises(UsageError, match="this run's storage is"):
        resolve_storage(ref, tmp_path, "postgresql://u:pw@other:5432/nas")


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    first = RunLock(tmp_path).acquire()
    first.announce()
    code = ("import sys; from pathlib import Path; from resnet_nas.lock import RunLock\n"
            "try:\n    RunLock(Path(sys.argv[1])).acquire()\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO,
                         capture_output=True, text=True).stdout
    assert out.startswith("RunBusyError") and f"pid {os.getpid()}" in out
    first.release()
    again = RunLock(tmp_path).acquire()  # free again
    again.release()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    code = ("import sys, os; from pathlib import Path; from resnet_nas.lock import RunLock\n"
            "RunLock(Path(sys.argv[1])).acquire().announce(); os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, check=True)
    lock = RunLock(tmp_path).acquire()
    assert lock.took_over and lock.took_over["pid"] != os.getpid()
    lock.release()


def test_in_process_the_lock_is_exclusive_too(tmp_path):
    with RunLock(tmp_path).acquire():
        with pytest.raises(RunBusyError):
            RunLock(tmp_path).acquire()


def test_latest_run_dir_skips_directories_without_a_run(tmp_path):
    (tmp_path / "q-1").mkdir()
    assert latest_run_dir("q", tmp_path) is None
    (tmp_path / "q-2").mkdir()
    (tmp_path / "q-2" / "run.json").write_text("{}")
    assert latest_run_dir("q", tmp_path) == tmp_path / "q-2"


def test_read_run_names_what_is_wrong(tmp_path):
    with pytest.raises(UsageError, match="nothing there"):
        read_run(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="a file"):
        read_run(tmp_path / "f")
    with pytest.raises(UsageError, match="no run.json"):
        read_run(tmp_path)


def test_a_clean_release_leaves_no_note_and_a_refused_acquire_changes_nothing(tmp_path):
    lock = RunLock(tmp_path).acquire()
    lock.announce()
    assert b"pid" in (tmp_path / ".lock").read_bytes()
    lock.release()
    assert (tmp_path / ".lock").read_bytes() == b""
    assert RunLock(tmp_path).acquire().took_over is None
