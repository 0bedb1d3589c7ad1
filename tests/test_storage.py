"""Storage URLs: no credential in any output, and the heartbeat settings."""

import pytest

from resnet_nas.storage import StorageError, heartbeat_settings, redact, scrub


@pytest.mark.parametrize("url, shown", [
    ("postgresql://user:PW@host/db", "postgresql://user:***@host/db"),
    ("postgresql://user:p@ss/w:rd@host:5432/db", "postgresql://user:***@host:5432/db"),
    ("postgresql://host/db?user=u&password=PW&sslmode=require",
     "postgresql://host/db?user=u&password=***&sslmode=require"),
    ("mysql+pymysql://u:PW@h/db?ssl_key=k&token=T", "mysql+pymysql://u:***@h/db?ssl_key=k&token=***"),
    ("sqlite:////runs/x/study.db", "sqlite:////runs/x/study.db"),
    ("journal:///runs/x/study.journal", "journal:///runs/x/study.journal"),
    ("postgresql://user@host/db", "postgresql://user@host/db"),
])
def test_redact_hides_every_credential(url, shown):
    assert redact(url) == shown and redact(redact(url)) == shown


def test_scrub_removes_the_secret_from_a_message_in_any_form():
    url = "postgresql://u:p%40ss@h/db"
    message = "could not parse 'postgresql://u:p%40ss@h/db' (password p@ss)"
    assert "p%40ss" not in scrub(message, url) and "p@ss" not in scrub(message, url)


def test_heartbeat_settings(monkeypatch):
    assert heartbeat_settings(5, 20) == (5, 20)
    monkeypatch.setenv("RESNET_NAS_HEARTBEAT_INTERVAL", "x")
    with pytest.raises(StorageError, match="whole number"):
        heartbeat_settings()
    with pytest.raises(StorageError, match="longer than"):
        heartbeat_settings(10, 10)
