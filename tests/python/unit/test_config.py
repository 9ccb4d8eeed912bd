"""Settings: precedence, validation reported at once, secrets kept out of repr and URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcf_pg_loader.config import load_settings
from vcf_pg_loader.db import connection_params
from vcf_pg_loader.errors import VcfPgError


def test_defaults_to_embedded(tmp_path: Path) -> None:
    s = load_settings(environ={"VCF_PG_LOADER_HOME": str(tmp_path)})
    assert s.embedded and s.home == tmp_path
    assert s.master_key_path == tmp_path / "master.key"


def test_flag_beats_environment(tmp_path: Path) -> None:
    env = {"VCF_PG_LOADER_DB_URL": "host=envhost dbname=x", "VCF_PG_LOADER_HOME": "/nowhere"}
    s = load_settings(db_url="host=flaghost dbname=y", home=tmp_path, environ=env)
    assert s.db_url == "host=flaghost dbname=y" and s.home == tmp_path


def test_all_problems_reported_at_once() -> None:
    env = {"VCF_PG_LOADER_TLS_MODE": "sometimes", "VCF_PG_LOADER_TLS_CA_CERT": "/no/such/ca.pem"}
    with pytest.raises(VcfPgError) as err:
        load_settings(environ=env)
    assert "TLS_MODE" in str(err.value) and "TLS_CA_CERT" in str(err.value)


def test_password_never_in_repr() -> None:
    s = load_settings(environ={"VCF_PG_LOADER_DB_PASSWORD": "hunter2-secret"})
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)


@pytest.mark.parametrize(
    "url", ["postgresql://u:pw@db.example.org/vcf", "host=db.example.org password=pw dbname=vcf"]
)
def test_password_in_url_refused(url: str) -> None:
    s = load_settings(db_url=url, environ={})
    with pytest.raises(VcfPgError, match="contains a password"):
        connection_params(s)


def test_remote_defaults_to_verify_full_and_password_from_env() -> None:
    s = load_settings(
        db_url="host=db.example.org dbname=vcf user=loader",
        environ={"VCF_PG_LOADER_DB_PASSWORD": "pw-from-env"},
    )
    params = connection_params(s)
    assert params["sslmode"] == "verify-full"
    assert params["password"] == "pw-from-env"
    assert "pw-from-env" not in params["conninfo"]


def test_local_host_prefers_tls_and_mode_overrides(tmp_path: Path) -> None:
    s = load_settings(db_url="host=localhost dbname=vcf", environ={})
    assert connection_params(s)["sslmode"] == "prefer"
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = load_settings(
        db_url="host=db.example.org dbname=vcf",
        environ={"VCF_PG_LOADER_TLS_MODE": "verify-ca", "VCF_PG_LOADER_TLS_CA_CERT": str(ca)},
    )
    params = connection_params(s)
    assert params["sslmode"] == "verify-ca" and params["sslrootcert"] == str(ca)
