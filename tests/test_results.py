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
