"""Database credentials from AWS (moto in-process) and the rules around them.

Secrets Manager: the secret's JSON gives the password and fills in user,
host, port and dbname the URL leaves out; a bad or missing secret is one
clean line that never echoes its value. RDS IAM: the token is made offline
by botocore's signer for the URL's host, port and user, passed to libpq as
the password, and refused without TLS. No credential ever shows in a repr,
a message or argv (there is no password flag).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from vcf_pg_loader.config import load_settings
from vcf_pg_loader.credentials import CredentialError, DbSecret, fetch_db_secret
from vcf_pg_loader.db import connection_params
from vcf_pg_loader.errors import EXIT_DATABASE, VcfPgError

SECRET_PASSWORD = "Pw-from-secrets-manager-7f3a"
RDS_HOST = "vcf.c1abcdefgh.eu-west-1.rds.amazonaws.com"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


def _secret(client: Any, name: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(client.create_secret(Name=name, SecretString=text)["ARN"])


def test_secret_fills_in_what_the_url_leaves_out(aws: Any) -> None:
    _secret(
        aws,
        "vcf/loader",
        {
            "engine": "postgres",
            "username": "loader",
            "password": SECRET_PASSWORD,
            "host": RDS_HOST,
            "port": 5432,
            "dbname": "genomics",
        },
    )
    s = load_settings(db_secret_id="vcf/loader", environ={})
    assert not s.embedded
    params = connection_params(s)
    assert params["password"] == SECRET_PASSWORD
    assert (params["user"], params["host"], params["port"], params["dbname"]) == (
        "loader",
        RDS_HOST,
        "5432",
        "genomics",
    )
    assert params["sslmode"] == "verify-full"
    # the URL's own values win; the password still comes from the secret
    s = load_settings(db_url="host=db.internal dbname=vcf", db_secret_id="vcf/loader", environ={})
    params = connection_params(s)
    assert (params.get("host"), params.get("dbname"), params["user"]) == (None, None, "loader")
    assert "db.internal" in params["conninfo"] and params["password"] == SECRET_PASSWORD


def test_rds_managed_secret_has_only_user_and_password(aws: Any) -> None:
    arn = _secret(aws, "rds!db-1234", {"username": "postgres", "password": SECRET_PASSWORD})
    secret = fetch_db_secret(arn)
    assert secret == DbSecret("postgres", SECRET_PASSWORD)
    assert SECRET_PASSWORD not in repr(secret)


def test_region_from_the_secret_arn(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = _secret(aws, "vcf/arn", {"username": "u", "password": SECRET_PASSWORD})
    monkeypatch.delenv("AWS_REGION")
    assert fetch_db_secret(arn).password == SECRET_PASSWORD
    with pytest.raises(CredentialError, match="no AWS region"):
        fetch_db_secret("vcf/arn")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not json " + SECRET_PASSWORD, "it is not JSON"),
        (json.dumps([SECRET_PASSWORD]), "it is not a JSON object"),
        ({"password": SECRET_PASSWORD}, "no username"),
        ({"username": "u", "password": SECRET_PASSWORD, "port": "x5432"}, "port is not a number"),
    ],
)
def test_bad_secret_is_one_line_never_echoed(aws: Any, value: Any, problem: str) -> None:
    _secret(aws, "vcf/bad", value)
    with pytest.raises(CredentialError) as err:
        connection_params(load_settings(db_secret_id="vcf/bad", environ={}))
    text = f"{err.value} {err.value.hint}"
    assert problem in text and "vcf/bad" in text
    assert SECRET_PASSWORD not in text and "\n" not in str(err.value)
    assert err.value.exit_code == EXIT_DATABASE


def test_missing_secret_names_the_aws_error(aws: Any) -> None:
    with pytest.raises(CredentialError, match="ResourceNotFoundException") as err:
        fetch_db_secret("vcf/none")
    assert "GetSecretValue" in str(err.value.hint)


def test_iam_token_is_the_password(aws: Any) -> None:
    s = load_settings(
        db_url=f"host={RDS_HOST} port=5432 dbname=vcf user=loader",
        iam_auth=True,
        environ={},
    )
    params = connection_params(s)
    token = params["password"]
    assert params["sslmode"] == "verify-full"
    # botocore's RDS signer: HOST:PORT/?Action=connect&DBUser=...&X-Amz-Signature=...
    parts = urlsplit("https://" + token)
    query = parse_qs(parts.query)
    assert (parts.hostname, parts.port) == (RDS_HOST, 5432)
    assert query["Action"] == ["connect"] and query["DBUser"] == ["loader"]
    assert "eu-west-1/rds-db/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Signature"][0]
    assert token not in repr(s) and token not in params["conninfo"]


def test_iam_region_from_the_rds_host_name(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    s = load_settings(db_url=f"host={RDS_HOST} user=loader", iam_auth=True, environ={})
    token = connection_params(s)["password"]
    credential = parse_qs(urlsplit("https://" + token).query)["X-Amz-Credential"][0]
    assert "/eu-west-1/rds-db/" in credential


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_iam_refused_without_tls(aws: Any, mode: str) -> None:
    with pytest.raises(VcfPgError, match="--iam-auth requires TLS"):
        load_settings(
            db_url=f"host={RDS_HOST} user=loader",
            iam_auth=True,
            environ={"VCF_PG_LOADER_TLS_MODE": mode},
        )
    # an sslmode in the URL itself is checked before any token is made
    s = load_settings(db_url=f"host={RDS_HOST} user=loader sslmode={mode}", iam_auth=True)
    with pytest.raises(CredentialError, match="--iam-auth requires TLS"):
        connection_params(s)


def test_iam_needs_one_host_and_a_user(aws: Any) -> None:
    for url in (f"host={RDS_HOST} dbname=vcf", f"host=a.{RDS_HOST},b.{RDS_HOST} user=u"):
        with pytest.raises(CredentialError, match="one host name and a user"):
            connection_params(load_settings(db_url=url, iam_auth=True, environ={}))


def test_iam_without_aws_credentials(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s = load_settings(db_url=f"host={RDS_HOST} user=loader", iam_auth=True, environ={})
    with pytest.raises(CredentialError, match="no AWS credentials"):
        connection_params(s)


@pytest.mark.parametrize(
    ("env", "flags"),
    [
        ({"VCF_PG_LOADER_DB_PASSWORD": "pw"}, {"db_secret_id": "vcf/loader"}),
        ({"VCF_PG_LOADER_DB_PASSWORD": "pw"}, {"iam_auth": True}),
        ({"VCF_PG_LOADER_DB_SECRET_ID": "vcf/loader", "VCF_PG_LOADER_IAM_AUTH": "1"}, {}),
    ],
)
def test_one_credential_at_a_time(env: dict[str, str], flags: dict[str, Any]) -> None:
    with pytest.raises(VcfPgError, match="give one database credential"):
        load_settings(db_url="host=db.example.org user=u", environ=env, **flags)


def test_no_password_flag() -> None:
    """The password cannot come from argv: vcfctl has no such flag."""
    out = subprocess.run(
        [sys.executable, "-m", "vcf_pg_loader", "--password", "x", "sessions", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "No such option" in out.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "vcf_pg_loader", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--db-secret-id" in help_text and "--iam-auth" in help_text
    assert "--password" not in help_text
