import os
import stat

from returnstats.linkage.keys import DEV_KEY_FILE, KEY_ENV, resolve_key


def test_explicit_key_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert resolve_key("from-airflow", tmp_path) == b"from-airflow"


def test_environment_key_is_used_without_explicit(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert resolve_key(None, tmp_path) == b"from-env"
    assert not (tmp_path / DEV_KEY_FILE).exists()


def test_development_key_is_created_private_and_reused(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv(KEY_ENV, raising=False)
    first = resolve_key(None, tmp_path)
    path = tmp_path / DEV_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_key(None, tmp_path) == first
    assert len(first) == 64
    assert "development key" in caplog.text
