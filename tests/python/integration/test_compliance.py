"""vcfctl compliance check end to end: a moto server (RDS, KMS, EC2) and real databases.

One compliant setup (an encrypted RDS instance under a rotated customer key,
rds.force_ssl = 1, a closed security group, logs exported, a week of
backups; a database whose PHI key is wrapped by a rotated KMS key) passes
every check. The non-compliant ones fail each check: an unencrypted open
instance, one under the AWS-managed key, one under a key never rotated; a
database with a local PHI key, a broken audit chain, PUBLIC grants and bind
parameters logged. The databases are scratch databases of the test cluster,
dropped afterwards (tampering breaks the chain for good).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer
from psycopg import sql

from vcf_pg_loader.compliance import CHECK_IDS, Aws, run_checks
from vcf_pg_loader.keys.aws_kms import AwsKmsProvider
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import init_phi_key

REGION = "eu-west-2"


@dataclass
class World:
    env: dict[str, str]
    endpoint: str
    phi_arn: str
    storage_arn: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def aws(self) -> Aws:
        return Aws(self.client)


def _instance(rds: Any, name: str, **kw: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="vcfadmin",
        MasterUserPassword="not-a-real-password-1",
        AllocatedStorage=20,
        **kw,
    )


def _parameter_group(rds: Any, name: str, force_ssl: str) -> None:
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily="postgres15", Description=name
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[
            {
                "ParameterName": "rds.force_ssl",
                "ParameterValue": force_ssl,
                "ApplyMethod": "immediate",
            }
        ],
    )


def _security_group(ec2: Any, name: str, rules: list[dict[str, Any]]) -> str:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    gid = str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"])
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=rules)
    return gid


def _tcp(port: int, cidr: str) -> dict[str, Any]:
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}
    )
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **ranges}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    empty = tmp_path_factory.mktemp("aws") / "none"
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    try:
        w = World(env, endpoint, "", "")
        kms, rds, ec2 = w.client("kms"), w.client("rds"), w.client("ec2")
        w.storage_arn = str(kms.create_key(Description="vcf rds storage")["KeyMetadata"]["Arn"])
        kms.enable_key_rotation(KeyId=w.storage_arn)
        w.phi_arn = str(kms.create_key(Description="vcf phi")["KeyMetadata"]["Arn"])
        kms.enable_key_rotation(KeyId=w.phi_arn)
        stale_arn = str(kms.create_key(Description="never rotated")["KeyMetadata"]["Arn"])

        _parameter_group(rds, "vcf-secure", "1")
        _parameter_group(rds, "vcf-loose", "0")
        closed = _security_group(
            ec2, "vcf-db-closed", [_tcp(5432, "10.20.0.0/16"), _tcp(443, "0.0.0.0/0")]
        )
        open_ = _security_group(ec2, "vcf-db-open", [_tcp(5432, "0.0.0.0/0"), _tcp(5432, "::/0")])
        everything = _security_group(
            ec2, "vcf-db-all", [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        good = {
            "StorageEncrypted": True,
            "DBParameterGroupName": "vcf-secure",
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
            "BackupRetentionPeriod": 14,
            "EnableIAMDatabaseAuthentication": True,
            "VpcSecurityGroupIds": [closed],
        }
        _instance(rds, "vcf-good", KmsKeyId=w.storage_arn, **good)
        _instance(rds, "vcf-awskey", **{**good, "KmsKeyId": "alias/aws/rds"})
        _instance(rds, "vcf-stale", **{**good, "KmsKeyId": stale_arn})
        _instance(
            rds,
            "vcf-bad",
            StorageEncrypted=False,
            DBParameterGroupName="vcf-loose",
            BackupRetentionPeriod=1,
            VpcSecurityGroupIds=[open_, everything],
        )
        rds.create_db_snapshot(
            DBInstanceIdentifier="vcf-bad", DBSnapshotIdentifier="vcf-bad-manual"
        )
        yield w
    finally:
        server.stop()


@pytest.fixture(scope="module")
def databases(cluster: Any, home: Path, world: World) -> Iterator[dict[str, str]]:
    """good: PHI key under the rotated KMS key; bad: local PHI key, everything broken."""
    names = {k: f"vcf_compliance_{k}_{uuid.uuid4().hex[:6]}" for k in ("good", "bad")}
    urls = {k: cluster.create_database(n) for k, n in names.items()}
    try:
        with psycopg.connect(urls["good"], autocommit=True) as conn:
            init_phi_key(conn, AwsKmsProvider(world.phi_arn, client=world.client("kms")))
            conn.execute("SELECT vcf._audit('compliance_test', 'good', true, '{}')")
        with psycopg.connect(urls["bad"], autocommit=True) as conn:
            init_phi_key(conn, LocalMasterKey(home / "master.key"))
            for i in range(3):
                conn.execute("SELECT vcf._audit('compliance_test', %s, true, '{}')", (f"row-{i}",))
        # what a superuser can do (and the parameter group, for the logging settings)
        with psycopg.connect(cluster.superuser_conninfo(names["bad"]), autocommit=True) as conn:
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                conn.execute("UPDATE vcf.audit_log SET succeeded = false WHERE target = 'row-1'")
            conn.execute("GRANT SELECT ON vcf.audit_log TO PUBLIC")
            conn.execute("GRANT EXECUTE ON FUNCTION vcf.audit_head() TO PUBLIC")
            conn.execute("GRANT USAGE ON SCHEMA vcf TO PUBLIC")
            db = sql.Identifier(names["bad"])
            conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(db))
            conn.execute(sql.SQL("ALTER DATABASE {} SET log_parameter_max_length = -1").format(db))
        yield urls
    finally:
        for name in names.values():
            cluster.drop_database(name)


def _run(vcfctl: Any, world: World, url: str, *args: str, **env: str) -> Any:
    return vcfctl("--db", url, "compliance", "check", *args, env={**world.env, **env})


def _statuses(checks: list[dict[str, Any]]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in checks}


def _by_id(checks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in checks}


def _assert_shape(checks: Any) -> None:
    assert isinstance(checks, list)
    assert [c["id"] for c in checks] == list(CHECK_IDS)
    for c in checks:
        assert set(c) == {"id", "status", "evidence", "remediation"}
        assert c["status"] in ("pass", "fail", "warn", "skip")
        assert isinstance(c["evidence"], str) and c["evidence"]
        if c["status"] == "pass":
            assert c["remediation"] is None
        if c["status"] == "fail":
            assert isinstance(c["remediation"], str) and c["remediation"]


def test_compliant_setup_passes_every_check(
    vcfctl: Any, world: World, databases: dict[str, str], profile: str
) -> None:
    result = _run(
        vcfctl, world, databases["good"], "--rds-instance", "vcf-good", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    checks = json.loads(result.stdout)
    _assert_shape(checks)
    assert _statuses(checks) == dict.fromkeys(CHECK_IDS, "pass")
    by_id = _by_id(checks)
    assert world.storage_arn in by_id["rds-storage-encrypted"]["evidence"]
    assert world.storage_arn in by_id["kms-rotation-storage-key"]["evidence"]
    assert world.phi_arn in by_id["kms-rotation-phi-key"]["evidence"]
    assert "vcf-secure: rds.force_ssl = 1" in by_id["rds-force-ssl"]["evidence"]
    transport = "TLS" if profile == "portable" else "Unix socket"
    assert transport in by_id["connection-encrypted"]["evidence"]
    assert "BackupRetentionPeriod = 14 days" in by_id["rds-backup-retention"]["evidence"]
    assert "1 snapshot(s), all encrypted" in by_id["rds-backup-encrypted"]["evidence"]
    assert "compliance check: 14 checks, 0 failed, 0 warning(s), 0 skipped" in result.stderr


def test_non_compliant_setup_fails_each_check(
    vcfctl: Any, world: World, databases: dict[str, str]
) -> None:
    result = _run(vcfctl, world, databases["bad"], "--rds-instance", "vcf-bad", "--format", "json")
    assert result.returncode == 1, result.stderr
    checks = json.loads(result.stdout)
    _assert_shape(checks)
    assert _statuses(checks) == {
        "rds-storage-encrypted": "fail",
        "kms-rotation-storage-key": "skip",
        "kms-rotation-phi-key": "skip",
        "rds-force-ssl": "fail",
        "connection-encrypted": "pass",
        "rds-security-groups": "fail",
        "rds-iam-auth": "warn",
        "rds-cloudwatch-logs": "fail",
        "rds-backup-retention": "fail",
        "rds-backup-encrypted": "fail",
        "phi-key-kms-wrapped": "fail",
        "audit-chain-verifies": "fail",
        "no-public-grants": "fail",
        "logging-bind-parameters": "fail",
    }
    by_id = _by_id(checks)
    assert by_id["rds-storage-encrypted"]["evidence"] == "vcf-bad: StorageEncrypted = false"
    assert "vcf-loose: rds.force_ssl = 0" in by_id["rds-force-ssl"]["evidence"]
    assert "--db-parameter-group-name vcf-loose" in by_id["rds-force-ssl"]["remediation"]
    groups = by_id["rds-security-groups"]
    assert "from 0.0.0.0/0" in groups["evidence"] and "from ::/0" in groups["evidence"]
    assert "all traffic from 0.0.0.0/0" in groups["evidence"]
    assert groups["remediation"].startswith("aws ec2 revoke-security-group-ingress --group-id sg-")
    assert "--enable-iam-database-authentication" in by_id["rds-iam-auth"]["remediation"]
    assert "(postgresql missing)" in by_id["rds-cloudwatch-logs"]["evidence"]
    assert "BackupRetentionPeriod = 1 day" in by_id["rds-backup-retention"]["evidence"]
    assert "--backup-retention-period 7" in by_id["rds-backup-retention"]["remediation"]
    assert "not encrypted" in by_id["rds-backup-encrypted"]["evidence"]
    assert "provider local, not aws-kms" in by_id["phi-key-kms-wrapped"]["evidence"]
    assert by_id["kms-rotation-phi-key"]["evidence"] == (
        "the active PHI key is wrapped by local, not KMS"
    )
    assert by_id["phi-key-kms-wrapped"]["remediation"] == (
        "vcfctl keys rewrap --to-kms-key-id KEY_ARN"
    )
    assert "the row does not match its hash" in by_id["audit-chain-verifies"]["evidence"]
    grants = by_id["no-public-grants"]
    for name in ("schema vcf: USAGE", "relation vcf.audit_log: SELECT", "vcf.audit_head()"):
        assert name in grants["evidence"]
    assert "REVOKE ALL ON TABLE vcf.audit_log FROM PUBLIC;" in grants["remediation"]
    logging = by_id["logging-bind-parameters"]
    assert "log_statement = 'all'" in logging["evidence"]
    assert "log_parameter_max_length = 0" in logging["remediation"]
    assert "not-a-real-password" not in result.stdout + result.stderr


def test_aws_managed_and_unrotated_storage_keys_fail(
    conninfo: str, world: World, databases: dict[str, str]
) -> None:
    with psycopg.connect(databases["good"], autocommit=True) as conn:
        managed = _by_id([c.as_json() for c in run_checks(conn, "vcf-awskey", world.aws())])
        stale = _by_id([c.as_json() for c in run_checks(conn, "vcf-stale", world.aws())])
    assert managed["rds-storage-encrypted"]["status"] == "fail"
    assert "alias/aws/rds" in managed["rds-storage-encrypted"]["evidence"]
    assert "copy-db-snapshot --kms-key-id" in managed["rds-storage-encrypted"]["remediation"]
    assert stale["rds-storage-encrypted"]["status"] == "pass"
    assert stale["kms-rotation-storage-key"]["status"] == "fail"
    assert stale["kms-rotation-storage-key"]["remediation"].startswith(
        "aws kms enable-key-rotation --key-id arn:aws:kms:"
    )


def test_phi_key_rotation_off_fails(world: World, databases: dict[str, str]) -> None:
    kms = world.client("kms")
    kms.disable_key_rotation(KeyId=world.phi_arn)
    try:
        with psycopg.connect(databases["good"], autocommit=True) as conn:
            checks = _by_id([c.as_json() for c in run_checks(conn, None, world.aws())])
    finally:
        kms.enable_key_rotation(KeyId=world.phi_arn)
    phi = checks["kms-rotation-phi-key"]
    assert phi["status"] == "fail"
    assert phi["remediation"] == f"aws kms enable-key-rotation --key-id {world.phi_arn}"


def test_without_rds_instance_aws_checks_skip_and_weak_key_warns(
    vcfctl: Any, world: World, databases: dict[str, str]
) -> None:
    good = _run(vcfctl, world, databases["good"], "--format", "json")
    assert good.returncode == 0, good.stderr
    statuses = _statuses(json.loads(good.stdout))
    rds_ids = [i for i in CHECK_IDS if i.startswith("rds-") or i == "kms-rotation-storage-key"]
    assert {statuses[i] for i in rds_ids} == {"skip"}
    assert statuses["kms-rotation-phi-key"] == "pass"
    bad = json.loads(_run(vcfctl, world, databases["bad"], "--format", "json").stdout)
    phi = _by_id(bad)["phi-key-kms-wrapped"]
    assert phi["status"] == "warn" and "give --rds-instance" in phi["evidence"]
    assert _by_id(bad)["rds-force-ssl"]["evidence"] == "no --rds-instance given"


def test_unreachable_aws_skips_with_the_reason(
    vcfctl: Any, world: World, databases: dict[str, str]
) -> None:
    result = _run(
        vcfctl,
        world,
        databases["good"],
        "--rds-instance",
        "vcf-good",
        "--format",
        "json",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_MAX_ATTEMPTS="1",
    )
    assert result.returncode == 0, result.stderr
    checks = _by_id(json.loads(result.stdout))
    for check_id in ("rds-storage-encrypted", "rds-backup-encrypted", "kms-rotation-phi-key"):
        assert checks[check_id]["status"] == "skip"
        assert "cannot reach the AWS endpoint" in checks[check_id]["evidence"]
    assert checks["audit-chain-verifies"]["status"] == "pass"


def test_unknown_instance_is_one_clean_error(
    vcfctl: Any, world: World, databases: dict[str, str]
) -> None:
    result = _run(vcfctl, world, databases["good"], "--rds-instance", "vcf-typo")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"vcfctl: error: RDS instance vcf-typo not found in region {REGION}",
        "hint: Check --rds-instance and AWS_REGION.",
    ]
    assert result.stdout == ""


def test_table_output(vcfctl: Any, world: World, databases: dict[str, str]) -> None:
    result = _run(vcfctl, world, databases["bad"], "--rds-instance", "vcf-bad")
    assert result.returncode == 1
    for check_id in CHECK_IDS:
        assert check_id in result.stdout
    assert "compliance check: 14 checks, 10 failed, 1 warning(s), 2 skipped" in result.stderr
    assert "\u2026" not in result.stdout  # commands are folded, never cut
    assert """'{"EnableLogTypes":["postgresql"]}'""" in result.stdout


def test_a_role_without_grants_gets_skips_not_a_traceback(
    world: World, databases: dict[str, str]
) -> None:
    role = f"vcf_compliance_nobody_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(databases["good"], autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        # a CREATEROLE creator is not a member of what it creates (PostgreSQL 15)
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        try:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
            checks = _by_id([c.as_json() for c in run_checks(conn, None, world.aws())])
            conn.execute("RESET ROLE")
        finally:
            conn.execute("RESET ROLE")
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    for check_id in ("phi-key-kms-wrapped", "audit-chain-verifies"):
        assert checks[check_id]["status"] == "skip"
        assert checks[check_id]["evidence"].startswith("cannot check: 42501: permission denied")
    assert checks["kms-rotation-phi-key"]["status"] == "skip"
    assert checks["no-public-grants"]["status"] == "pass"
    assert checks["connection-encrypted"]["status"] == "pass"
