"""`collect` reads a shared storage, which anyone with write access to it can craft: the rows it
writes take the collected study's own name and stay inside the run directory."""

import json

import optuna
import pytest

from resnet_nas import cli, results, trial_attrs
from resnet_nas.records import TrialRecord
from resnet_nas.storage import open_storage
from tests.distributed.conftest import create_study, journal_url
from tests.helpers import files_under


def _add_finished_trial(url: str, study: str, claimed_study: str) -> None:
    """A complete trial whose record claims another study's name (as a crafted one would)."""
    st = optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=False))
    rec = TrialRecord(study=claimed_study, space="tiny", space_hash="h", trial=0,
                      engine="optuna", sampler="random", pruner="none", state="complete",
                      best_val_accuracy=0.5, final_val_accuracy=0.5)
    trial = st.ask()
    trial.set_user_attr(trial_attrs.RECORD, json.dumps(rec.to_row()))
    st.tell(trial, 0.5)


@pytest.mark.parametrize("claimed", ["../../escaped", "/tmp/escaped-abs", "other"])
def test_collected_rows_take_the_studys_own_name_and_stay_inside(tmp_path, claimed):
    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    outside = files_under(tmp_path.parent / "escaped") if claimed.startswith("..") else {}
    _add_finished_trial(url, "tiny", claimed.replace("/tmp/", str(tmp_path) + "/"))
    run_dir = tmp_path / "deep" / "collected"
    assert cli.main(["collect", "--study", "tiny", "--storage", url, "--run-dir",
                     str(run_dir)]) == 0
    rows = sorted(p.name for p in (run_dir / results.ROWS_DIR).iterdir())
    assert rows == ["tiny--000000.json"]
    assert results.load_table(run_dir)["study"].tolist() == ["tiny"]
    assert not (tmp_path / "escaped-abs--000000.json").exists()
    assert not list(tmp_path.glob("**/escaped*"))
    assert files_under(tmp_path.parent / "escaped") == outside
    # a second collect (which aborted before) keeps the rows as they are
    before = files_under(run_dir / results.ROWS_DIR)
    assert cli.main(["collect", "--study", "tiny", "--storage", url, "--run-dir",
                     str(run_dir)]) == 0
    assert files_under(run_dir / results.ROWS_DIR) == before


def test_a_study_whose_name_could_leave_the_directory_is_refused(tmp_path, capsys):
    url = journal_url(tmp_path)
    create_study(tmp_path, url)
    storage = open_storage(url, heartbeat=False)
    # a crafted study: the created one's attributes under a path-like name
    src = optuna.load_study(study_name="tiny", storage=storage)
    bad = optuna.create_study(study_name="../x", storage=storage)
    for k, v in src.user_attrs.items():
        bad.set_user_attr(k, v)
    run_dir = tmp_path / "collected"
    code = cli.main(["collect", "--study", "../x", "--storage", url, "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "'../x'" in err and "Traceback" not in err
    assert not run_dir.exists() and not (tmp_path / "x--000000.json").exists()


def test_row_path_refuses_names_that_leave_the_directory(tmp_path):
    assert results.row_path(tmp_path, "tiny", 3) == tmp_path / "rows" / "tiny--000003.json"
    for bad in ("../x", "/abs", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="cannot name a row file"):
            results.row_path(tmp_path, bad, 0)
