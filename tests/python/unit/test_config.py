"""Settings: precedence, validation reported at once, secrets kept out of repr and URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcf_pg_loader.config import Settings, load_settings, redact_url
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
    for environ in ({}, {"VCF_PG_LOADER_DB_URL": url}):
        with pytest.raises(VcfPgError, match="contains a password") as err:
            load_settings(db_url=url if not environ else None, environ=environ)
        assert "pw" not in str(err.value).replace("password", "")
        assert "VCF_PG_LOADER_DB_PASSWORD" in str(err.value) and "--db-secret-id" in str(err.value)
    # Settings made by hand still never connect with it, nor show it
    s = Settings(home=Path("/h"), db_url=url)
    assert ":pw@" not in repr(s) and "password=pw" not in repr(s) and "***" in repr(s)
    with pytest.raises(VcfPgError, match="contains a password"):
        connection_params(s)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://u:s3cr%40t@h:5/db?sslmode=require",
            "postgresql://u:***@h:5/db?sslmode=require",
        ),
        ("host=h password='a b\\' c' user=u", "host=h password=*** user=u"),
        ("host=h dbname=x", "host=h dbname=x"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_tls_flags_beat_environment_and_map_to_libpq(tmp_path: Path) -> None:
    files = {}
    for name in ("ca", "env-ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text("x")
    env = {"VCF_PG_LOADER_TLS_MODE": "require", "VCF_PG_LOADER_TLS_CA_CERT": str(files["env-ca"])}
    s = load_settings(
        db_url="host=db.example.org dbname=vcf",
        tls_mode="verify-ca",
        tls_ca_cert=files["ca"],
        tls_client_cert=files["cert"],
        tls_client_key=files["key"],
        environ=env,
    )
    params = connection_params(s)
    assert params["sslmode"] == "verify-ca"
    assert params["sslrootcert"] == str(files["ca"])
    assert (params["sslcert"], params["sslkey"]) == (str(files["cert"]), str(files["key"]))
    with pytest.raises(VcfPgError, match="go together"):
        load_settings(db_url="host=h", tls_client_cert=files["cert"], environ={})


def test_passfile_setting(tmp_path: Path) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text("*:*:*:*:pw\n")
    s = load_settings(
        db_url="host=db.example.org", environ={"VCF_PG_LOADER_DB_PASSFILE": str(passfile)}
    )
    assert connection_params(s)["passfile"] == str(passfile)
    assert "password" not in connection_params(s)
    with pytest.raises(VcfPgError, match="DB_PASSFILE"):
        load_settings(environ={"VCF_PG_LOADER_DB_PASSFILE": str(tmp_path / "none")})


def test_iam_auth_setting_is_a_boolean() -> None:
    url = "host=db.example.org user=u"
    assert load_settings(db_url=url, environ={"VCF_PG_LOADER_IAM_AUTH": "true"}).iam_auth
    assert not load_settings(db_url=url, environ={"VCF_PG_LOADER_IAM_AUTH": "0"}).iam_auth
    with pytest.raises(VcfPgError, match="IAM_AUTH='maybe'"):
        load_settings(db_url=url, environ={"VCF_PG_LOADER_IAM_AUTH": "maybe"})
    with pytest.raises(VcfPgError, match="--iam-auth needs a database"):
        load_settings(iam_auth=True, environ={})


@pytest.mark.parametrize("name", ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE"])
def test_a_libpq_variable_naming_a_server_means_not_embedded(name: str) -> None:
    s = load_settings(environ={name: "db.example.org" if "HOST" in name else "x"})
    assert not s.embedded and s.libpq_server
    assert (name, s.libpq_env[0][1]) in s.libpq_env and name in repr(s)
    params = connection_params(s)
    assert params["conninfo"] == ""  # libpq reads the variables itself, as psql does


def test_libpq_user_or_sslmode_alone_name_no_server() -> None:
    s = load_settings(environ={"PGUSER": "alice", "PGSSLMODE": "require", "PGPASSWORD": "pw"})
    assert s.embedded
    assert "pw" not in repr(s) and all(n != "PGPASSWORD" for n, _ in s.libpq_env)


def test_pghost_gets_the_tls_defaults_of_its_host() -> None:
    remote = connection_params(load_settings(environ={"PGHOST": "db.example.org"}))
    assert remote["sslmode"] == "verify-full"
    local = connection_params(load_settings(environ={"PGHOST": "/var/run/postgresql"}))
    assert local["sslmode"] == "prefer"


@pytest.mark.parametrize(
    "env",
    [
        {"PGHOST": "db.example.org", "PGSSLMODE": "disable"},
        {"PGHOST": "db.example.org", "PGREQUIRESSL": "1"},
        {"PGSERVICE": "vcf"},
    ],
)
def test_the_users_libpq_sslmode_is_not_overridden(env: dict[str, str]) -> None:
    assert "sslmode" not in connection_params(load_settings(environ=env))


def test_the_url_beats_the_libpq_environment() -> None:
    s = load_settings(db_url="host=db.example.org dbname=vcf", environ={"PGHOST": "other"})
    params = connection_params(s)
    assert params["conninfo"] == "host=db.example.org dbname=vcf"
    assert params["sslmode"] == "verify-full"  # libpq gives the URL's host precedence too


def test_secret_id_means_not_embedded() -> None:
    s = load_settings(environ={"VCF_PG_LOADER_DB_SECRET_ID": "vcf/loader"})
    assert not s.embedded and s.db_secret_id == "vcf/loader"
    assert "vcf/loader" in repr(s)


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


PHI_KEY = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k="  # base64 of 32 bytes


@pytest.mark.parametrize(
    ("env", "flag", "provider"),
    [
        ({}, None, "local"),
        ({"VCF_PG_LOADER_KMS_KEY_ID": "alias/vcf"}, None, "aws-kms"),
        ({}, "alias/vcf", "aws-kms"),
        ({"VCF_PG_LOADER_PHI_KEY": PHI_KEY}, None, "env"),
        (
            {"VCF_PG_LOADER_PHI_KEY": PHI_KEY, "VCF_PG_LOADER_KMS_KEY_ID": "alias/vcf"},
            None,
            "aws-kms",
        ),
        (
            {"VCF_PG_LOADER_KMS_KEY_ID": "alias/vcf", "VCF_PG_LOADER_KEY_PROVIDER": "local"},
            None,
            "local",
        ),
        ({"VCF_PG_LOADER_PHI_KEY": PHI_KEY, "VCF_PG_LOADER_KEY_PROVIDER": "local"}, None, "local"),
        ({"VCF_PG_LOADER_KEY_PROVIDER": "env", "VCF_PG_LOADER_PHI_KEY": PHI_KEY}, "k", "env"),
    ],
)
def test_default_key_provider(env: dict[str, str], flag: str | None, provider: str) -> None:
    s = load_settings(kms_key_id=flag, environ=env)
    assert s.key_provider == provider


def test_kms_key_id_flag_beats_environment() -> None:
    env = {"VCF_PG_LOADER_KMS_KEY_ID": "alias/from-env"}
    assert load_settings(environ=env).kms_key_id == "alias/from-env"
    assert load_settings(kms_key_id="alias/from-flag", environ=env).kms_key_id == "alias/from-flag"
    assert "alias/from-flag" in repr(load_settings(kms_key_id="alias/from-flag", environ={}))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VCF_PG_LOADER_KEY_PROVIDER": "aws-kms"}, "KEY_PROVIDER=aws-kms needs a KMS key"),
        ({"VCF_PG_LOADER_KEY_PROVIDER": "env"}, "KEY_PROVIDER=env needs VCF_PG_LOADER_PHI_KEY"),
        ({"VCF_PG_LOADER_KEY_PROVIDER": "vault"}, "'vault' is not one of local, aws-kms, env"),
    ],
)
def test_key_provider_problems(env: dict[str, str], message: str) -> None:
    with pytest.raises(VcfPgError, match=message):
        load_settings(environ=env)


def test_phi_key_hidden_from_repr() -> None:
    s = load_settings(environ={"VCF_PG_LOADER_PHI_KEY": PHI_KEY})
    assert s.phi_key == PHI_KEY
    assert PHI_KEY not in repr(s) and PHI_KEY not in str(s) and "phi_key=<set>" in repr(s)
    assert PHI_KEY[:12] not in repr(s)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("hunter2-is-not-base64!", "VCF_PG_LOADER_PHI_KEY is not valid base64"),
        ("aHVudGVyMi1zZWNyZXQ=", "VCF_PG_LOADER_PHI_KEY decodes to 14 bytes, not 32 or 64"),
    ],
)
def test_bad_phi_key_reported_with_other_problems_never_echoed(value: str, message: str) -> None:
    env = {"VCF_PG_LOADER_PHI_KEY": value, "VCF_PG_LOADER_TLS_MODE": "sometimes"}
    with pytest.raises(VcfPgError) as err:
        load_settings(environ=env)
    text = f"{err.value} {err.value.hint}"
    assert message in text and "TLS_MODE" in text
    assert value not in text and "hunter2" not in text
