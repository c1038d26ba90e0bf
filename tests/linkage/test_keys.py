import os
import stat

import pytest
from returnstats.linkage.keys import DEV_KEY_FILE, KEY_ENV, KEY_VARIABLE, KeyMissing, resolve_key


def test_explicit_key_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert resolve_key("from-airflow", tmp_path) == b"from-airflow"


def test_environment_key_is_used_without_explicit(monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert resolve_key(None, tmp_path) == b"from-env"
    assert not (tmp_path / DEV_KEY_FILE).exists()


def test_development_key_is_created_private_and_reused_only_when_embedded(monkeypatch, tmp_path,
                                                                          caplog):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("RETURNSTATS_DEPLOYMENT", "embedded")
    first = resolve_key(None, tmp_path)
    path = tmp_path / DEV_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_key(None, tmp_path) == first
    assert len(first) == 64
    assert "development key" in caplog.text


@pytest.mark.parametrize("deployment", ["", "compose", "production"])
def test_without_a_key_outside_the_embedded_deployment_linking_is_refused(monkeypatch, tmp_path,
                                                                          deployment):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("RETURNSTATS_DEPLOYMENT", deployment)
    with pytest.raises(KeyMissing, match=KEY_VARIABLE):
        resolve_key(None, tmp_path)
    assert not (tmp_path / DEV_KEY_FILE).exists()  # no key is made up


def test_the_key_variable_is_masked_by_airflow():
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    assert should_hide_value_for_key(KEY_VARIABLE)
    assert not should_hide_value_for_key("returnstats_pseudonym_key")  # the old name was shown
