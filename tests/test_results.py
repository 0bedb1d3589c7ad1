"""The results table: rows never rewritten, corrupted rows named, the schema kept."""

import pytest

from resnet_nas import results
from resnet_nas.validation import ConfigError
from tests.helpers import write_row


def test_a_finished_row_is_never_rewritten(tmp_path):
    path = write_row(tmp_path, trial=0, state="complete", best_val_accuracy=0.5)
    data = path.read_bytes()
    with pytest.raises(results.RowExistsError, match="never rewritten"):
        write_row(tmp_path, trial=0, state="failed")
    assert path.read_bytes() == data
    assert not list((tmp_path / "rows").glob(".tmp-*"))  # no temporary file left


def test_the_table_has_the_schema_and_a_corrupted_row_is_named(tmp_path):
    write_row(tmp_path, trial=0, state="complete", best_val_accuracy=0.5)
    table = results.write_tables(tmp_path)
    assert list(table.columns) == results.COLUMNS and len(table) == 1
    assert (tmp_path / "results.csv").exists() and (tmp_path / "results.parquet").exists()
    bad = results.row_path(tmp_path, "s", 1)
    bad.write_text('{"study": "s", "trial": "one", "state": "complete"}')
    with pytest.raises(ConfigError, match=f"{bad}: trial: expected an integer"):
        results.load_table(tmp_path)


def _fresh(run_dir):
    """The table as read from every row file (no cache)."""
    df = results.to_frame(results.read_rows(run_dir))
    df["run_dir"] = str(run_dir)
    df["run_dir"] = df["run_dir"].astype("string")
    return df


def test_load_table_reads_only_the_rows_the_parquet_table_does_not_hold(tmp_path, monkeypatch):
    import pandas as pd

    for t in range(3):
        write_row(tmp_path, trial=t, state="complete", best_val_accuracy=0.1 * t)
    results.write_tables(tmp_path)
    write_row(tmp_path, trial=3, state="pruned", best_val_accuracy=0.9)
    asked = []
    real = results.read_rows
    monkeypatch.setattr(results, "read_rows",
                        lambda run_dir, study=None, names=None: asked.append(names) or
                        real(run_dir, study, names))
    table = results.load_table(tmp_path)
    assert asked == [["s--000003.json"]]
    monkeypatch.setattr(results, "read_rows", real)
    pd.testing.assert_frame_equal(table, _fresh(tmp_path))
    assert list(table["trial"]) == [0, 1, 2, 3]


def test_a_changed_or_removed_row_file_is_never_answered_from_the_cache(tmp_path):
    import json
    import os

    import pandas as pd

    for t in range(3):
        write_row(tmp_path, trial=t, state="complete", best_val_accuracy=0.1 * t)
    results.write_tables(tmp_path)
    path = results.row_path(tmp_path, "s", 1)
    row = json.loads(path.read_text())
    os.chmod(path, 0o644)
    path.write_text(json.dumps({**row, "best_val_accuracy": 0.75}))  # edited by hand
    results.row_path(tmp_path, "s", 2).unlink()
    table = results.load_table(tmp_path)
    pd.testing.assert_frame_equal(table, _fresh(tmp_path))
    assert list(table["trial"]) == [0, 1] and table["best_val_accuracy"][1] == 0.75


def test_an_index_of_another_parquet_file_is_not_used(tmp_path):
    import shutil

    import pandas as pd

    other = tmp_path / "other"
    for run, acc in ((tmp_path, 0.2), (other, 0.9)):
        write_row(run, trial=0, state="complete", best_val_accuracy=acc)
        results.write_tables(run)
    shutil.copy(other / "results.parquet", tmp_path / "results.parquet")  # the index is stale
    table = results.load_table(tmp_path)
    assert table["best_val_accuracy"].tolist() == [0.2]
    pd.testing.assert_frame_equal(table, _fresh(tmp_path))


def _flip_keeping_mtime(path, offset: int, bit: int) -> bool:
    """Flips one bit of `path` in place, its size and modification time kept (as a failing
    disk or a careless tool does); False when the byte is past the end."""
    import os

    st = path.stat()
    data = bytearray(path.read_bytes())
    if offset >= len(data):
        return False
    data[offset] ^= 1 << bit
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return True


def test_a_parquet_file_changed_in_place_is_never_answered_from(tmp_path):
    """Every single-bit flip of the Parquet file (mtime kept) across its bytes: the table is
    the rows' table, never a value the flip made (before: params 31008 for 31010, 7 rows for
    6)."""
    import random

    import pandas as pd

    for t in range(6):
        write_row(tmp_path, trial=t, state="complete", params=31010 + t,
                  best_val_accuracy=0.1 * t, val_accuracy_curve=(0.1, 0.1 * t))
    results.write_tables(tmp_path)
    parquet = tmp_path / "results.parquet"
    pristine = parquet.read_bytes()
    expected = _fresh(tmp_path)
    rng = random.Random(0)
    for _ in range(150):
        parquet.write_bytes(pristine)
        results.write_tables(tmp_path)
        assert _flip_keeping_mtime(parquet, rng.randrange(len(pristine)), rng.randrange(8))
        pd.testing.assert_frame_equal(results.load_table(tmp_path), expected)


def test_a_row_changed_in_place_is_read_again(tmp_path):
    import json

    write_row(tmp_path, trial=0, state="complete", params=31010, best_val_accuracy=0.5)
    results.write_tables(tmp_path)
    path = results.row_path(tmp_path, "s", 0)
    offset = path.read_bytes().index(b"31010") + 4
    assert _flip_keeping_mtime(path, offset, 1)  # '0' -> '2'
    assert json.loads(path.read_text())["params"] == 31012
    assert results.load_table(tmp_path)["params"].tolist() == [31012]  # what the row says


def test_the_tables_modules_can_be_imported_ahead_of_the_tables():
    import subprocess
    import sys

    from tests.helpers import REPO, cli_env

    code = ("import sys; from resnet_nas import results; before = 'pandas' in sys.modules; "
            "results.import_table_modules(); "
            "print(before, 'pandas' in sys.modules, 'pyarrow.parquet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=cli_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "True"], out.stderr[-2000:]


def test_parquet_and_csv_have_typed_columns_and_agree(tmp_path):
    """Curves are lists of floats and times are timestamps in Parquet (and in load_table);
    results.read_csv gives the CSV the same types (reason stays text, duplicate_of an
    integer), where a plain read_csv would turn them into floats."""
    import pandas as pd
    import pyarrow.parquet as pq

    write_row(tmp_path, trial=0, state="complete", best_val_accuracy=0.5,
              val_accuracy_curve=(0.25, 0.5), started_at="2026-12-07T01:02:03+00:00")
    write_row(tmp_path, trial=1, state="duplicate", duplicate_of=0, reason="taken",
              val_accuracy_curve=(0.25, 0.5))
    table = results.write_tables(tmp_path)
    schema = pq.read_schema(tmp_path / "results.parquet")
    assert str(schema.field("val_accuracy_curve").type) == "list<element: double>"
    assert str(schema.field("started_at").type).startswith("timestamp")
    assert table["val_accuracy_curve"].iloc[0] == [0.25, 0.5]
    assert table["started_at"].iloc[0] == pd.Timestamp("2026-12-07T01:02:03Z")
    from_csv = results.read_csv(tmp_path / "results.csv")
    from_parquet = results.to_frame(pd.read_parquet(tmp_path / "results.parquet")
                                    .to_dict("records")).drop(columns=["run_dir"])
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert str(from_csv["duplicate_of"].dtype) == "Int64"
    assert str(from_csv["reason"].dtype) == "string"
    # every column, run_dir included, says what it is
    assert all(meaning for _, meaning in results.SCHEMA.values())


def test_a_row_whose_trial_is_not_its_file_name_is_refused(tmp_path):
    path = write_row(tmp_path, trial=3, state="complete", best_val_accuracy=0.5)
    path.rename(path.with_name("s--000004.json"))  # copied over another trial's
    with pytest.raises(ConfigError, match=r"s--000004.json: trial: expected the study and trial "
                       r"its file name says \(a row of trial 3 of study 's' is named "
                       r"s--000003.json\)"):
        results.load_table(tmp_path)


@pytest.mark.parametrize("column, value", [("best_val_accuracy", 85.07),
                                           ("test_accuracy", -0.1),
                                           ("final_val_accuracy", "0.5"),
                                           ("val_accuracy_curve", (0.5, 85.07))])
def test_an_accuracy_outside_0_to_1_is_refused(tmp_path, column, value):
    write_row(tmp_path, trial=0, state="complete", **{column: value})
    with pytest.raises(ConfigError, match=f"s--000000.json: {column}: expected"):
        results.load_table(tmp_path)


def test_a_diverged_trials_nan_accuracy_is_a_row(tmp_path):
    write_row(tmp_path, trial=0, state="failed", val_accuracy_curve=(0.5, float("nan")))
    assert len(results.load_table(tmp_path)) == 1
