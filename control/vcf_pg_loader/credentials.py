"""Database credentials from AWS: a Secrets Manager secret, or an RDS IAM auth token.

A secret holds JSON with username and password, and optionally host, port
and dbname (what RDS writes for a managed or console-made secret). An IAM
token is made here with boto3 (rds.generate_db_auth_token: a signed URL
valid 15 minutes, computed locally from the caller's AWS credentials) and is
passed to libpq as the password; RDS accepts it only over TLS.

Neither the password nor the token is ever in a repr, a message or argv:
errors name the secret id and the AWS error code, never the secret's value.
The region: the one a secret's ARN or an RDS host name
(NAME.ID.REGION.rds.amazonaws.com) names, else AWS_REGION, AWS_DEFAULT_REGION
or the AWS profile's.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import EXIT_DATABASE, VcfPgError

_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):")
_RDS_HOST_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com\.?$")


class CredentialError(VcfPgError):
    """A credential could not be obtained from AWS (exit 4, as a failed connection)."""

    exit_code = EXIT_DATABASE


@dataclass(frozen=True)
class DbSecret:
    """What a Secrets Manager secret says about the database; the password hidden."""

    username: str
    password: str = field(repr=False)
    host: str | None = None
    port: int | None = None
    dbname: str | None = None


def _aws_error(exc: Exception) -> str:
    """The AWS error code or botocore's exception name: never the request or response body."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def _session_region(named: str | None) -> str | None:
    """The region a secret's ARN or an RDS host name names, else AWS_REGION or the profile's."""
    import boto3

    return named or os.environ.get("AWS_REGION") or boto3.session.Session().region_name


def fetch_db_secret(secret_id: str) -> DbSecret:
    """Read and check the secret (GetSecretValue); raise CredentialError, never echoing it."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    match = _ARN_REGION.match(secret_id)
    region = _session_region(match.group(1) if match else None)
    if region is None:
        raise CredentialError(
            f"AWS Secrets Manager secret {secret_id}: no AWS region is configured",
            hint="Set AWS_REGION (or a region in your AWS profile), or give the secret's ARN.",
        )
    try:
        client: Any = boto3.session.Session().client("secretsmanager", region_name=region)
        response = client.get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise CredentialError(
            f"cannot read AWS Secrets Manager secret {secret_id}: {_aws_error(exc)}",
            hint="Check the secret id, the region and that your AWS identity may call"
            " secretsmanager:GetSecretValue on it (and kms:Decrypt on its key).",
        ) from None
    text = response.get("SecretString")
    problem = "it holds no SecretString"
    value: Any = None
    if isinstance(text, str):
        try:
            value = json.loads(text)
            problem = "it is not a JSON object"
        except ValueError:
            problem = "it is not JSON"
    if isinstance(value, dict):
        return _parse_secret(secret_id, value)
    raise CredentialError(
        f"AWS Secrets Manager secret {secret_id} is not a database secret: {problem}",
        hint='Store JSON: {"username": ..., "password": ..., "host": ..., "port": ...}'
        " (what RDS writes for a managed secret).",
    )


def _parse_secret(secret_id: str, value: dict[str, Any]) -> DbSecret:
    problems = [
        f"no {name}"
        for name in ("username", "password")
        if not isinstance(value.get(name), str) or not value.get(name)
    ]
    port: int | None = None
    raw_port = value.get("port")
    if raw_port is not None:
        try:
            port = int(raw_port)
        except (TypeError, ValueError):
            problems.append("port is not a number")
    for name in ("host", "dbname"):
        if value.get(name) is not None and not isinstance(value.get(name), str):
            problems.append(f"{name} is not a string")
    if problems:
        raise CredentialError(
            f"AWS Secrets Manager secret {secret_id} is not a database secret: "
            + ", ".join(problems),
            hint='Store JSON: {"username": ..., "password": ..., "host": ..., "port": ...}.',
        )
    return DbSecret(
        username=str(value["username"]),
        password=str(value["password"]),
        host=value.get("host") or None,
        port=port,
        dbname=value.get("dbname") or None,
    )


def rds_auth_token(host: str, port: int, user: str) -> str:
    """An RDS IAM auth token for user at host:port (local signing: no network call)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    match = _RDS_HOST_REGION.search(host)
    region = _session_region(match.group(1) if match else None)
    if region is None:
        raise CredentialError(
            "--iam-auth: no AWS region is configured",
            hint="Set AWS_REGION to the database's region (or use its RDS host name).",
        )
    try:
        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise CredentialError(
                "--iam-auth: no AWS credentials found to sign the token",
                hint="Set AWS_PROFILE, or run where an IAM role is available;"
                " the identity needs rds-db:connect for this database user.",
            )
        client: Any = session.client("rds", region_name=region)
        token = client.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )
    except (BotoCoreError, ClientError) as exc:
        raise CredentialError(
            f"--iam-auth: cannot make an RDS auth token: {_aws_error(exc)}",
            hint="Check AWS_PROFILE / AWS_ACCESS_KEY_ID and the region.",
        ) from None
    return str(token)
