"""The compliance checks evaluated from API responses (no database, no AWS), and the
AWS gathering's failures: skipped with the call and the error code, never AWS's message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError
from moto import mock_aws

from vcf_pg_loader.compliance import (
    CHECK_IDS,
    FAIL,
    MIN_BACKUP_RETENTION_DAYS,
    PASS,
    SKIP,
    WARN,
    Aws,
    AwsUnavailable,
    aws_reason,
    eval_audit,
    eval_backup_encrypted,
    eval_backup_retention,
    eval_cloudwatch_logs,
    eval_force_ssl,
    eval_iam_auth,
    eval_logging,
    eval_phi_key,
    eval_public_grants,
    eval_rotation,
    eval_security_groups,
    eval_storage_encrypted,
    eval_transport,
    rds_checks,
)
from vcf_pg_loader.doctor import OK, Finding
from vcf_pg_loader.doctor import WARN as DOCTOR_WARN
from vcf_pg_loader.errors import VcfPgError

ARN = "arn:aws:kms:eu-west-1:111122223333:key/0b6f7ad2-0000-4000-8000-000000000001"


def _instance(**kw: Any) -> dict[str, Any]:
    return {"DBInstanceIdentifier": "db1", **kw}


def test_ids_are_stable_and_kebab_case() -> None:
    assert len(set(CHECK_IDS)) == len(CHECK_IDS) == 14
    assert all(i == i.lower() and " " not in i and "_" not in i for i in CHECK_IDS)


def test_storage_encryption() -> None:
    assert eval_storage_encrypted(_instance(StorageEncrypted=False), None, []).status == FAIL
    customer = _instance(StorageEncrypted=True, KmsKeyId=ARN)
    ok = eval_storage_encrypted(customer, {"KeyManager": "CUSTOMER"}, ["alias/vcf-rds"])
    assert (ok.status, ok.remediation) == (PASS, None)
    assert ARN in ok.evidence
    managed = eval_storage_encrypted(customer, {"KeyManager": "AWS"}, [])
    assert managed.status == FAIL and "KeyManager = AWS" in managed.evidence
    # moto reports KeyManager CUSTOMER for aws/rds: the alias gives it away
    aliased = eval_storage_encrypted(customer, {"KeyManager": "CUSTOMER"}, ["alias/aws/rds"])
    assert aliased.status == FAIL and "alias/aws/rds" in aliased.evidence
    by_name = _instance(StorageEncrypted=True, KmsKeyId="alias/aws/rds")
    assert eval_storage_encrypted(by_name, None, []).status == FAIL


def test_rotation() -> None:
    assert eval_rotation("kms-rotation-phi-key", ARN, {"KeyRotationEnabled": True}).status == PASS
    off = eval_rotation("kms-rotation-phi-key", ARN, {"KeyRotationEnabled": False})
    assert off.status == FAIL
    assert off.remediation == f"aws kms enable-key-rotation --key-id {ARN}"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ([{"ParameterName": "rds.force_ssl", "ParameterValue": "1"}], PASS),
        ([{"ParameterName": "rds.force_ssl", "ParameterValue": "0"}], FAIL),
        ([{"ParameterName": "rds.force_ssl"}], FAIL),
        ([{"ParameterName": "log_statement", "ParameterValue": "none"}], FAIL),
        ([], FAIL),
    ],
)
def test_force_ssl(params: list[dict[str, str]], status: str) -> None:
    check = eval_force_ssl("db1", "grp", params)
    assert check.status == status
    if status == FAIL:
        assert check.remediation is not None
        assert "aws rds modify-db-parameter-group --db-parameter-group-name grp" in (
            check.remediation
        )


def test_transport_maps_doctor_findings() -> None:
    assert eval_transport([Finding("transport", OK, "Unix socket")]).status == PASS
    assert eval_transport([Finding("transport", OK, "TLS")]).status == PASS
    plain = eval_transport([Finding("transport", DOCTOR_WARN, "TCP without TLS: ...")])
    assert plain.status == FAIL and "TCP without TLS" in plain.evidence
    assert plain.remediation is not None and "VCF_PG_LOADER_TLS_MODE=verify-full" in (
        plain.remediation
    )


def _group(gid: str, *perms: dict[str, Any]) -> dict[str, Any]:
    return {"GroupId": gid, "IpPermissions": list(perms)}


def _rule(low: int, high: int, cidr: str, proto: str = "tcp") -> dict[str, Any]:
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}
    )
    return {"IpProtocol": proto, "FromPort": low, "ToPort": high, **ranges}


@pytest.mark.parametrize(
    ("perms", "status"),
    [
        ([_rule(5432, 5432, "10.0.0.0/8")], PASS),
        ([_rule(443, 443, "0.0.0.0/0")], PASS),
        ([_rule(5432, 5432, "0.0.0.0/0", proto="udp")], PASS),
        ([{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": []}], PASS),
        ([_rule(5432, 5432, "0.0.0.0/0")], FAIL),
        ([_rule(5000, 6000, "0.0.0.0/0")], FAIL),
        ([_rule(5432, 5432, "::/0")], FAIL),
        ([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}], FAIL),
    ],
)
def test_security_groups(perms: list[dict[str, Any]], status: str) -> None:
    check = eval_security_groups(5432, [_group("sg-1", *perms)])
    assert check.status == status
    if status == FAIL:
        assert check.remediation is not None
        assert check.remediation.startswith(
            "aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions"
        )


def test_security_groups_use_the_instance_port() -> None:
    groups = [_group("sg-1", _rule(5432, 5432, "0.0.0.0/0"))]
    assert eval_security_groups(6543, groups).status == PASS


def test_iam_auth_warns_never_fails() -> None:
    assert eval_iam_auth(_instance(IAMDatabaseAuthenticationEnabled=True)).status == PASS
    off = eval_iam_auth(_instance(IAMDatabaseAuthenticationEnabled=False))
    assert off.status == WARN and off.remediation is not None
    assert eval_iam_auth(_instance()).status == WARN


def test_cloudwatch_logs() -> None:
    exports = ["upgrade", "postgresql"]
    assert eval_cloudwatch_logs(_instance(EnabledCloudwatchLogsExports=exports)).status == PASS
    check = eval_cloudwatch_logs(_instance(EnabledCloudwatchLogsExports=["upgrade"]))
    assert check.status == FAIL and "postgresql missing" in check.evidence
    assert eval_cloudwatch_logs(_instance()).status == FAIL


@pytest.mark.parametrize(
    ("days", "status"),
    [(0, FAIL), (1, FAIL), (MIN_BACKUP_RETENTION_DAYS - 1, FAIL), (7, PASS), (35, PASS)],
)
def test_backup_retention(days: int, status: str) -> None:
    check = eval_backup_retention(_instance(BackupRetentionPeriod=days))
    assert check.status == status
    if days == 0:
        assert "automated backups are off" in check.evidence


def test_backup_encryption() -> None:
    encrypted = _instance(StorageEncrypted=True)
    snaps = [{"DBSnapshotIdentifier": "a", "Encrypted": True}]
    assert eval_backup_encrypted(encrypted, snaps).status == PASS
    assert eval_backup_encrypted(encrypted, []).status == PASS
    old = [*snaps, {"DBSnapshotIdentifier": "old-plain", "Encrypted": False}]
    check = eval_backup_encrypted(encrypted, old)
    assert check.status == FAIL and "old-plain" in check.evidence
    assert eval_backup_encrypted(_instance(StorageEncrypted=False), []).status == FAIL


@pytest.mark.parametrize(
    ("provider", "on_rds", "status"),
    [
        ("aws-kms", True, PASS),
        ("aws-kms", False, PASS),
        ("env", True, FAIL),
        ("local", True, FAIL),
        ("env", False, WARN),
        ("local", False, WARN),
    ],
)
def test_phi_key_provider(provider: str, on_rds: bool, status: str) -> None:
    check = eval_phi_key(("k1", provider, "kek"), on_rds)
    assert check.status == status
    if status != PASS:
        assert check.remediation == "vcfctl keys rewrap --to-kms-key-id KEY_ARN"


def test_no_phi_key_is_skipped() -> None:
    assert eval_phi_key(None, True).status == SKIP


def test_audit() -> None:
    assert eval_audit((True, 10, 10, None, None, None)).status == PASS
    broken = eval_audit((False, 10, 10, 4, 44, "it was modified"))
    assert broken.status == FAIL
    assert "chain position 4, audit_id 44: it was modified" in broken.evidence
    assert eval_audit(None).status == FAIL


def test_public_grants() -> None:
    assert eval_public_grants([]).status == PASS
    check = eval_public_grants(
        [("function", "vcf.unlock(uuid,bytea)", "EXECUTE"), ("schema", "vcf", "USAGE")]
    )
    assert check.status == FAIL
    assert check.remediation == (
        "REVOKE ALL ON FUNCTION vcf.unlock(uuid,bytea) FROM PUBLIC;"
        " REVOKE ALL ON SCHEMA vcf FROM PUBLIC;"
    )


def test_logging_maps_doctor_findings() -> None:
    fine = [Finding("log_statement", OK, "log_statement = 'ddl'"), Finding("x", OK, "0")]
    check = eval_logging(fine)
    assert check.status == PASS and "log_statement = 'ddl'; x = 0" in check.evidence
    bad = eval_logging([*fine, Finding("pgaudit.log_parameter", DOCTOR_WARN, "on: ...")])
    assert bad.status == FAIL and bad.evidence == "pgaudit.log_parameter: on: ..."


def test_aws_reason_names_the_code_not_the_message() -> None:
    error = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "User arn:aws:iam::1:user/secret-name"}},
        "DescribeDBInstances",
    )
    reason = aws_reason("rds:describe_db_instances", error)
    assert reason == "rds:describe_db_instances failed: AccessDenied"
    assert "no AWS region" in aws_reason("x", NoRegionError())
    down = aws_reason("x", EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert down == "x: cannot reach the AWS endpoint"


class _Refusing:
    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "m"}}, name)

        return call


def test_rds_checks_skip_together_when_aws_refuses() -> None:
    checks = rds_checks(Aws(lambda _service: _Refusing()), "db1")
    assert {c.status for c in checks.values()} == {SKIP}
    assert checks["rds-force-ssl"].evidence == "rds:describe_db_instances failed: AccessDenied"
    assert set(checks) == {i for i in CHECK_IDS if i.startswith("rds-")} | {
        "kms-rotation-storage-key"
    }


def test_no_instance_given_skips() -> None:
    checks = rds_checks(Aws(lambda _service: _Refusing()), None)
    assert {c.evidence for c in checks.values()} == {"no --rds-instance given"}


@pytest.fixture
def moto_rds(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("rds", region_name="eu-west-1")


def test_default_session_reads_aws_region_and_names_a_missing_instance(moto_rds: Any) -> None:
    with pytest.raises(VcfPgError, match="RDS instance nope not found in region eu-west-1"):
        rds_checks(Aws(), "nope")


def test_a_kms_failure_skips_only_the_key_checks(moto_rds: Any) -> None:
    moto_rds.create_db_instance(
        DBInstanceIdentifier="db1",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        StorageEncrypted=True,
        KmsKeyId=ARN,
        BackupRetentionPeriod=7,
        EnableCloudwatchLogsExports=["postgresql"],
    )
    checks = rds_checks(Aws(), "db1")
    # the key does not exist in this account: the checks that need it are skipped
    assert checks["rds-storage-encrypted"].status == SKIP
    assert "kms:describe_key failed: NotFoundException" in checks["rds-storage-encrypted"].evidence
    assert checks["kms-rotation-storage-key"].status == SKIP
    assert checks["rds-backup-retention"].status == PASS
    assert checks["rds-cloudwatch-logs"].status == PASS
    with pytest.raises(AwsUnavailable):
        Aws().call("kms", "describe_key", KeyId=ARN)
