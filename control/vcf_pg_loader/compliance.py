"""The AWS runbook's compliance checklist, checked against AWS and the database.

Each check is evaluated by a pure function of what AWS or PostgreSQL
returned (so each can be tested from a response), and gathered by
run_checks. A check that cannot be evaluated (no --rds-instance, AWS
unreachable or not permitted) is skipped with its reason, never guessed.
Evidence names ids and values that were seen, never secrets; AWS's own
error messages are not quoted, only their error codes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from .doctor import OK as DOCTOR_OK
from .doctor import Finding, logging_findings, transport_findings
from .errors import VcfPgError

PASS = "pass"  # noqa: S105 (a status, not a password)
FAIL = "fail"
WARN = "warn"
SKIP = "skip"

# Automated backups must reach back at least a week: the runbook's audit
# review is weekly, so tampering or a destructive change found at a review
# can still be restored from before it (HIPAA 164.308(a)(7)(ii)(A), data
# backup plan). RDS's API default is 1 day, 0 disables automated backups.
MIN_BACKUP_RETENTION_DAYS = 7

# The checks in report order; the ids are stable (scripts may rely on them).
CHECK_IDS = (
    "rds-storage-encrypted",
    "kms-rotation-storage-key",
    "kms-rotation-phi-key",
    "rds-force-ssl",
    "connection-encrypted",
    "rds-security-groups",
    "rds-iam-auth",
    "rds-cloudwatch-logs",
    "rds-backup-retention",
    "rds-backup-encrypted",
    "phi-key-kms-wrapped",
    "audit-chain-verifies",
    "no-public-grants",
    "logging-bind-parameters",
)

_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=30)
_OPEN_CIDRS = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True)
class Check:
    """One checklist item. remediation is None when there is nothing to fix."""

    id: str
    status: str
    evidence: str
    remediation: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "status": self.status,
            "evidence": self.evidence,
            "remediation": self.remediation,
        }


class AwsUnavailable(Exception):
    """An AWS call failed; the reason names the call and the error code only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def aws_reason(operation: str, exc: Exception) -> str:
    """Why an AWS call failed, without AWS's own message (it may quote request data)."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        return f"{operation} failed: {code}"
    if isinstance(exc, NoRegionError):
        return f"{operation}: no AWS region is configured (set AWS_REGION)"
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return f"{operation}: no AWS credentials found"
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return f"{operation}: cannot reach the AWS endpoint"
    return f"{operation} failed: {type(exc).__name__}"


class Aws:
    """boto3 clients made on first use from the usual AWS settings.

    As keys/aws_kms.py: a session of its own (the settings as they are now),
    AWS_REGION read first, then boto3's own region settings and endpoints.
    """

    def __init__(self, factory: Callable[[str], Any] | None = None) -> None:
        self._factory = factory
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            if self._factory is not None:
                self._clients[service] = self._factory(service)
            else:
                region = os.environ.get("AWS_REGION") or None
                session = boto3.session.Session()
                self._clients[service] = session.client(service, region_name=region, config=_CONFIG)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        name = f"{service}:{operation}"
        try:
            response: dict[str, Any] = getattr(self._client(service), operation)(**params)
        except (BotoCoreError, ClientError) as exc:
            raise AwsUnavailable(aws_reason(name, exc)) from None
        return response

    def pages(self, service: str, operation: str, key: str, **params: Any) -> list[Any]:
        name = f"{service}:{operation}"
        try:
            paginator = self._client(service).get_paginator(operation)
            return [item for page in paginator.paginate(**params) for item in page.get(key, [])]
        except (BotoCoreError, ClientError) as exc:
            raise AwsUnavailable(aws_reason(name, exc)) from None


# -- pure evaluation ---------------------------------------------------------------


def _skip(check_id: str, reason: str) -> Check:
    return Check(check_id, SKIP, reason)


def eval_storage_encrypted(
    instance: Mapping[str, Any], key_meta: Mapping[str, Any] | None, aliases: Sequence[str]
) -> Check:
    """Encrypted at rest with a customer-managed key: aws/rds cannot be governed or rotated
    on the customer's terms, nor its use restricted by a key policy."""
    name = instance["DBInstanceIdentifier"]
    if not instance.get("StorageEncrypted"):
        return Check(
            "rds-storage-encrypted",
            FAIL,
            f"{name}: StorageEncrypted = false",
            "storage cannot be encrypted in place: `aws rds create-db-snapshot"
            f" --db-instance-identifier {name} --db-snapshot-identifier {name}-plain`,"
            " `aws rds copy-db-snapshot --source-db-snapshot-identifier"
            f" {name}-plain --target-db-snapshot-identifier {name}-encrypted --kms-key-id"
            " KEY_ARN`, `aws rds restore-db-instance-from-db-snapshot"
            f" --db-snapshot-identifier {name}-encrypted --db-instance-identifier NEW_ID`,"
            " then move the application to NEW_ID",
        )
    key = str(instance.get("KmsKeyId") or "")
    managed = "unknown" if key_meta is None else str(key_meta.get("KeyManager", "unknown"))
    aws_alias = [a for a in aliases if a.startswith("alias/aws/")]
    if managed == "AWS" or aws_alias or key.startswith("alias/aws/"):
        shown = ", ".join(aws_alias) or "KeyManager = AWS"
        return Check(
            "rds-storage-encrypted",
            FAIL,
            f"{name}: encrypted with the AWS-managed key {key} ({shown}), not a customer key",
            "copy a snapshot under your own key (`aws rds copy-db-snapshot --kms-key-id"
            " KEY_ARN ...`) and restore it (`aws rds restore-db-instance-from-db-snapshot`)",
        )
    return Check(
        "rds-storage-encrypted",
        PASS,
        f"{name}: StorageEncrypted = true, customer-managed key {key}",
    )


def eval_rotation(check_id: str, key_arn: str, rotation: Mapping[str, Any]) -> Check:
    """GetKeyRotationStatus: KMS rotates a customer key's backing material yearly."""
    if rotation.get("KeyRotationEnabled"):
        return Check(check_id, PASS, f"{key_arn}: KeyRotationEnabled = true")
    return Check(
        check_id,
        FAIL,
        f"{key_arn}: KeyRotationEnabled = false",
        f"aws kms enable-key-rotation --key-id {key_arn}",
    )


def eval_force_ssl(instance_id: str, group: str, parameters: Iterable[Mapping[str, Any]]) -> Check:
    """rds.force_ssl = 1 makes the server refuse any connection without TLS."""
    value = next(
        (p.get("ParameterValue") for p in parameters if p.get("ParameterName") == "rds.force_ssl"),
        None,
    )
    fix = (
        f"aws rds modify-db-parameter-group --db-parameter-group-name {group} --parameters"
        " ParameterName=rds.force_ssl,ParameterValue=1,ApplyMethod=immediate"
        " (a default.* group cannot be changed: create one with"
        " `aws rds create-db-parameter-group` and attach it with"
        f" `aws rds modify-db-instance --db-instance-identifier {instance_id}"
        " --db-parameter-group-name NAME --apply-immediately`)"
    )
    if value is None:
        return Check(
            "rds-force-ssl", FAIL, f"parameter group {group}: rds.force_ssl is not set", fix
        )
    if str(value).strip() == "1":
        return Check("rds-force-ssl", PASS, f"parameter group {group}: rds.force_ssl = 1")
    return Check("rds-force-ssl", FAIL, f"parameter group {group}: rds.force_ssl = {value}", fix)


def eval_transport(findings: Sequence[Finding]) -> Check:
    """Maps doctor.transport_findings: a Unix socket or TLS passes, plain TCP fails."""
    bad = [f for f in findings if f.status != DOCTOR_OK]
    seen = "; ".join(f.detail for f in findings) or "nothing reported"
    if bad:
        return Check(
            "connection-encrypted",
            FAIL,
            f"this connection: {seen}",
            "connect with TLS: VCF_PG_LOADER_TLS_MODE=verify-full and"
            " VCF_PG_LOADER_TLS_CA_CERT=rds-global-bundle.pem (or a Unix socket)",
        )
    return Check("connection-encrypted", PASS, f"this connection: {seen}")


def _covers(permission: Mapping[str, Any], port: int) -> bool:
    if str(permission.get("IpProtocol")) == "-1":
        return True
    if str(permission.get("IpProtocol")) not in ("tcp", "6"):
        return False
    low, high = permission.get("FromPort"), permission.get("ToPort")
    if low is None or high is None:
        return True
    return int(low) <= port <= int(high)


def eval_security_groups(port: int, groups: Sequence[Mapping[str, Any]]) -> Check:
    """No ingress rule of the instance's groups lets the whole internet reach its port."""
    open_rules = []
    for group in groups:
        gid = group["GroupId"]
        for perm in group.get("IpPermissions", []):
            if not _covers(perm, port):
                continue
            cidrs = [r.get("CidrIp") for r in perm.get("IpRanges", [])]
            cidrs += [r.get("CidrIpv6") for r in perm.get("Ipv6Ranges", [])]
            for cidr in cidrs:
                if cidr in _OPEN_CIDRS:
                    proto = perm.get("IpProtocol")
                    span = (
                        "all traffic"
                        if str(proto) == "-1"
                        else f"{proto} {perm.get('FromPort')}-{perm.get('ToPort')}"
                    )
                    open_rules.append((gid, cidr, proto, perm, span))
    ids = ", ".join(g["GroupId"] for g in groups) or "none"
    if not open_rules:
        return Check(
            "rds-security-groups",
            PASS,
            f"security groups {ids}: no ingress from 0.0.0.0/0 or ::/0 to port {port}",
        )
    evidence = "; ".join(f"{gid} allows {span} from {cidr}" for gid, cidr, _, _, span in open_rules)
    fixes = []
    for gid, cidr, proto, perm, _ in open_rules:
        family = "CidrIpv6" if ":" in str(cidr) else "CidrIp"
        ranges = "Ipv6Ranges" if family == "CidrIpv6" else "IpRanges"
        ports = (
            "" if str(proto) == "-1" else f",FromPort={perm['FromPort']},ToPort={perm['ToPort']}"
        )
        fixes.append(
            f"aws ec2 revoke-security-group-ingress --group-id {gid} --ip-permissions"
            f" 'IpProtocol={proto}{ports},{ranges}=[{{{family}={cidr}}}]'"
        )
    return Check(
        "rds-security-groups",
        FAIL,
        f"port {port}: {evidence}",
        "; ".join(dict.fromkeys(fixes))
        + " (then allow only the application's security group or CIDR)",
    )


def eval_iam_auth(instance: Mapping[str, Any]) -> Check:
    """Optional: IAM tokens replace long-lived passwords; reported, never a failure."""
    name = instance["DBInstanceIdentifier"]
    if instance.get("IAMDatabaseAuthenticationEnabled"):
        return Check("rds-iam-auth", PASS, f"{name}: IAMDatabaseAuthenticationEnabled = true")
    return Check(
        "rds-iam-auth",
        WARN,
        f"{name}: IAMDatabaseAuthenticationEnabled = false (optional: passwords from"
        " Secrets Manager are also acceptable)",
        f"aws rds modify-db-instance --db-instance-identifier {name}"
        " --enable-iam-database-authentication --apply-immediately",
    )


def eval_cloudwatch_logs(instance: Mapping[str, Any]) -> Check:
    """The server log leaves the instance (retained, searchable, not lost with it)."""
    name = instance["DBInstanceIdentifier"]
    exports = list(instance.get("EnabledCloudwatchLogsExports") or [])
    shown = ", ".join(exports) or "none"
    if "postgresql" in exports:
        return Check("rds-cloudwatch-logs", PASS, f"{name}: log exports {shown}")
    return Check(
        "rds-cloudwatch-logs",
        FAIL,
        f"{name}: log exports {shown} (postgresql missing)",
        f"aws rds modify-db-instance --db-instance-identifier {name}"
        ' --cloudwatch-logs-export-configuration \'{"EnableLogTypes":["postgresql"]}\''
        " --apply-immediately",
    )


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def eval_backup_retention(instance: Mapping[str, Any]) -> Check:
    name = instance["DBInstanceIdentifier"]
    days = int(instance.get("BackupRetentionPeriod") or 0)
    if days >= MIN_BACKUP_RETENTION_DAYS:
        return Check(
            "rds-backup-retention",
            PASS,
            f"{name}: BackupRetentionPeriod = {_days(days)} (>= {MIN_BACKUP_RETENTION_DAYS})",
        )
    return Check(
        "rds-backup-retention",
        FAIL,
        f"{name}: BackupRetentionPeriod = {_days(days)}"
        f" ({'automated backups are off' if days == 0 else 'too short'};"
        f" at least {MIN_BACKUP_RETENTION_DAYS}: a week reaches back past the weekly audit review)",
        f"aws rds modify-db-instance --db-instance-identifier {name}"
        f" --backup-retention-period {MIN_BACKUP_RETENTION_DAYS} --apply-immediately",
    )


def eval_backup_encrypted(
    instance: Mapping[str, Any], snapshots: Sequence[Mapping[str, Any]]
) -> Check:
    """Backups and snapshots of an encrypted instance are encrypted under its key;
    an unencrypted snapshot (an old one, or of an unencrypted instance) is a copy in clear."""
    name = instance["DBInstanceIdentifier"]
    clear = [str(s.get("DBSnapshotIdentifier")) for s in snapshots if not s.get("Encrypted")]
    if not instance.get("StorageEncrypted"):
        return Check(
            "rds-backup-encrypted",
            FAIL,
            f"{name}: StorageEncrypted = false, so its automated backups and snapshots are"
            f" not encrypted ({len(clear)} unencrypted snapshot(s) seen)",
            "encrypt the instance (see rds-storage-encrypted), then delete the old"
            " snapshots: `aws rds delete-db-snapshot --db-snapshot-identifier ID`",
        )
    if clear:
        return Check(
            "rds-backup-encrypted",
            FAIL,
            f"{name}: unencrypted snapshot(s): {', '.join(clear)}",
            "copy each under your KMS key (`aws rds copy-db-snapshot --kms-key-id KEY_ARN"
            " --source-db-snapshot-identifier ID --target-db-snapshot-identifier NEW`) and"
            " delete the original (`aws rds delete-db-snapshot --db-snapshot-identifier ID`)",
        )
    return Check(
        "rds-backup-encrypted",
        PASS,
        f"{name}: storage encrypted, so are its backups; {len(snapshots)} snapshot(s),"
        " all encrypted",
    )


def eval_phi_key(row: tuple[Any, ...] | None, on_rds: bool) -> Check:
    """The PHI key must be wrapped by KMS on RDS: a master key file or an environment
    variable is a secret outside AWS's access control and audit (CloudTrail)."""
    if row is None:
        return _skip("phi-key-kms-wrapped", "no active PHI key (vcfctl keys init was not run)")
    key_id, provider, kek_id = row
    fix = "vcfctl keys rewrap --to-kms-key-id KEY_ARN"
    if provider == "aws-kms":
        return Check(
            "phi-key-kms-wrapped", PASS, f"PHI key {key_id}: provider aws-kms, KMS key {kek_id}"
        )
    evidence = f"PHI key {key_id}: provider {provider}, not aws-kms"
    if on_rds:
        return Check("phi-key-kms-wrapped", FAIL, evidence, fix)
    return Check(
        "phi-key-kms-wrapped",
        WARN,
        f"{evidence} (a failure on RDS: give --rds-instance to check as deployed)",
        fix,
    )


def eval_audit(row: tuple[Any, ...] | None) -> Check:
    """vcf.audit_verify(): the hash chain of vcf.audit_log is unbroken."""
    if row is None:
        return Check(
            "audit-chain-verifies",
            FAIL,
            "vcf.audit_verify() returned nothing",
            "vcfctl audit verify",
        )
    ok, rows_checked, head_chain_no, bad_chain_no, bad_audit_id, problem = row
    if ok:
        return Check(
            "audit-chain-verifies",
            PASS,
            f"vcf.audit_verify(): {rows_checked} row(s) verified, head at chain position"
            f" {head_chain_no}",
        )
    return Check(
        "audit-chain-verifies",
        FAIL,
        f"vcf.audit_verify(): broken at chain position {bad_chain_no}, audit_id"
        f" {bad_audit_id}: {problem}",
        "investigate with `vcfctl audit verify --format json` and `vcfctl audit export`;"
        " compare with your last anchor (`vcfctl audit verify --anchor FILE`); restore"
        " vcf.audit_log from a backup taken before the break (docs/operations.md)",
    )


def eval_public_grants(rows: Sequence[tuple[str, str, str]]) -> Check:
    """Nothing of schema vcf is usable by PUBLIC (a NULL ACL counts as its default)."""
    if not rows:
        return Check(
            "no-public-grants",
            PASS,
            "schema vcf, its relations and functions grant nothing to PUBLIC",
        )
    shown = "; ".join(f"{kind} {name}: {privs}" for kind, name, privs in rows)
    fixes = []
    for kind, name, _ in rows:
        target = {"schema": "SCHEMA", "function": "FUNCTION", "relation": "TABLE"}[kind]
        fixes.append(f"REVOKE ALL ON {target} {name} FROM PUBLIC;")
    return Check("no-public-grants", FAIL, f"granted to PUBLIC: {shown}", " ".join(fixes))


def eval_logging(findings: Sequence[Finding]) -> Check:
    """Maps doctor.logging_findings: any setting that would log bind parameters fails."""
    bad = [f for f in findings if f.status != DOCTOR_OK]
    if not bad:
        seen = "; ".join(
            f.detail if f.detail.startswith(f.check) else f"{f.check} = {f.detail}"
            for f in findings
        )
        return Check(
            "logging-bind-parameters", PASS, f"no setting would log bind parameters ({seen})"
        )
    return Check(
        "logging-bind-parameters",
        FAIL,
        "; ".join(f"{f.check}: {f.detail}" for f in bad),
        "ALTER SYSTEM SET log_parameter_max_length = 0;"
        " ALTER SYSTEM SET log_parameter_max_length_on_error = 0; SELECT pg_reload_conf();"
        " on RDS: aws rds modify-db-parameter-group --db-parameter-group-name GROUP"
        " --parameters ParameterName=log_parameter_max_length,ParameterValue=0,"
        "ApplyMethod=immediate ParameterName=log_parameter_max_length_on_error,"
        "ParameterValue=0,ApplyMethod=immediate",
    )


# -- gathering -----------------------------------------------------------------------


# Names schema-qualified whatever the session's search_path (regclass would drop "vcf."
# where vcf is on it, and the remediation's REVOKE would then depend on the path too).
PUBLIC_GRANTS_SQL = """
SELECT 'schema', quote_ident(n.nspname),
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname = 'vcf' AND a.grantee = 0
 GROUP BY n.nspname
UNION ALL
SELECT 'relation', format('vcf.%I', c.relname),
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
  FROM pg_class c,
       aclexplode(coalesce(c.relacl,
                           acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                      c.relowner))) a
 WHERE c.relnamespace = 'vcf'::regnamespace AND a.grantee = 0
 GROUP BY c.oid, c.relname
UNION ALL
SELECT 'function', format('vcf.%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid)),
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'vcf'::regnamespace AND a.grantee = 0
 GROUP BY p.oid, p.proname
 ORDER BY 1, 2
"""


def _phi_row(conn: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT key_id, provider, kek_id FROM vcf.data_keys"
        " WHERE purpose = 'phi' AND state = 'active'"
    ).fetchone()


def _audit_row(conn: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
    return conn.execute(
        "SELECT ok, rows_checked, head_chain_no, bad_chain_no, bad_audit_id, problem"
        " FROM vcf.audit_verify()"
    ).fetchone()


def _key_rotation(aws: Aws, check_id: str, key: str) -> Check:
    try:
        arn = str(aws.call("kms", "describe_key", KeyId=key)["KeyMetadata"]["Arn"])
        return eval_rotation(check_id, arn, aws.call("kms", "get_key_rotation_status", KeyId=arn))
    except AwsUnavailable as exc:
        return _skip(check_id, f"key {key}: {exc.reason}")


def _instance(aws: Aws, instance_id: str) -> dict[str, Any]:
    try:
        found = aws.call("rds", "describe_db_instances", DBInstanceIdentifier=instance_id)
    except AwsUnavailable as exc:
        if "DBInstanceNotFound" in exc.reason:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            raise VcfPgError(
                f"RDS instance {instance_id} not found"
                + (f" in region {region}" if region else ""),
                hint="Check --rds-instance and AWS_REGION.",
            ) from None
        raise
    return dict(found["DBInstances"][0])


def rds_checks(aws: Aws, instance_id: str | None) -> dict[str, Check]:
    """Every RDS check, skipped together when there is no instance or AWS is unavailable."""
    ids = [i for i in CHECK_IDS if i.startswith("rds-") or i == "kms-rotation-storage-key"]
    if instance_id is None:
        return {i: _skip(i, "no --rds-instance given") for i in ids}
    try:
        instance = _instance(aws, instance_id)
    except AwsUnavailable as exc:
        return {i: _skip(i, exc.reason) for i in ids}
    out: dict[str, Check] = {}

    key = instance.get("KmsKeyId")
    if instance.get("StorageEncrypted") and key:
        try:
            meta = aws.call("kms", "describe_key", KeyId=key)["KeyMetadata"]
            aliases = [
                str(a["AliasName"])
                for a in aws.pages("kms", "list_aliases", "Aliases", KeyId=meta["KeyId"])
            ]
            out["rds-storage-encrypted"] = eval_storage_encrypted(instance, meta, aliases)
        except AwsUnavailable as exc:
            out["rds-storage-encrypted"] = _skip(
                "rds-storage-encrypted",
                f"{instance_id}: StorageEncrypted = true, key {key}: {exc.reason}",
            )
        out["kms-rotation-storage-key"] = _key_rotation(aws, "kms-rotation-storage-key", key)
    else:
        out["rds-storage-encrypted"] = eval_storage_encrypted(instance, None, [])
        out["kms-rotation-storage-key"] = _skip(
            "kms-rotation-storage-key", f"{instance_id}: storage is not encrypted, no key"
        )

    groups = [g["DBParameterGroupName"] for g in instance.get("DBParameterGroups", [])]
    try:
        parameters = [
            p
            for g in groups
            for p in aws.pages(
                "rds", "describe_db_parameters", "Parameters", DBParameterGroupName=g
            )
        ]
        out["rds-force-ssl"] = eval_force_ssl(instance_id, ", ".join(groups) or "none", parameters)
    except AwsUnavailable as exc:
        out["rds-force-ssl"] = _skip("rds-force-ssl", exc.reason)

    port = int(instance.get("Endpoint", {}).get("Port") or instance.get("DbInstancePort") or 5432)
    sg_ids = [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
    try:
        sgs = (
            aws.pages("ec2", "describe_security_groups", "SecurityGroups", GroupIds=sg_ids)
            if sg_ids
            else []
        )
        out["rds-security-groups"] = eval_security_groups(port, sgs)
    except AwsUnavailable as exc:
        out["rds-security-groups"] = _skip("rds-security-groups", exc.reason)

    out["rds-iam-auth"] = eval_iam_auth(instance)
    out["rds-cloudwatch-logs"] = eval_cloudwatch_logs(instance)
    out["rds-backup-retention"] = eval_backup_retention(instance)
    try:
        snapshots = aws.pages(
            "rds", "describe_db_snapshots", "DBSnapshots", DBInstanceIdentifier=instance_id
        )
        out["rds-backup-encrypted"] = eval_backup_encrypted(instance, snapshots)
    except AwsUnavailable as exc:
        out["rds-backup-encrypted"] = _skip("rds-backup-encrypted", exc.reason)
    return out


def _from_db(check_id: str, evaluate: Callable[[], Check]) -> Check:
    """A query this role may not run skips its check (SQLSTATE and PostgreSQL's message:
    these name objects, never values)."""
    try:
        return evaluate()
    except psycopg.Error as exc:
        return _skip(check_id, f"cannot check: {exc.sqlstate}: {exc.diag.message_primary}")


def _public_grants(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    return [(str(k), str(n), str(p)) for k, n, p in conn.execute(PUBLIC_GRANTS_SQL).fetchall()]


def database_checks(conn: psycopg.Connection[Any], on_rds: bool) -> dict[str, Check]:
    checks: dict[str, Callable[[], Check]] = {
        "connection-encrypted": lambda: eval_transport(transport_findings(conn)),
        "phi-key-kms-wrapped": lambda: eval_phi_key(_phi_row(conn), on_rds),
        "audit-chain-verifies": lambda: eval_audit(_audit_row(conn)),
        "no-public-grants": lambda: eval_public_grants(_public_grants(conn)),
        "logging-bind-parameters": lambda: eval_logging(logging_findings(conn)),
    }
    return {check_id: _from_db(check_id, evaluate) for check_id, evaluate in checks.items()}


def run_checks(
    conn: psycopg.Connection[Any], instance_id: str | None, aws: Aws | None = None
) -> list[Check]:
    """Every check of CHECK_IDS, in that order."""
    aws = aws or Aws()
    found = database_checks(conn, instance_id is not None)
    found.update(rds_checks(aws, instance_id))
    try:
        phi = _phi_row(conn)
    except psycopg.Error:
        phi = None  # phi-key-kms-wrapped says why
    if phi is None:
        found["kms-rotation-phi-key"] = _skip(
            "kms-rotation-phi-key", "no active PHI key was read (see phi-key-kms-wrapped)"
        )
    elif phi[1] != "aws-kms":
        found["kms-rotation-phi-key"] = _skip(
            "kms-rotation-phi-key", f"the active PHI key is wrapped by {phi[1]}, not KMS"
        )
    else:
        found["kms-rotation-phi-key"] = _key_rotation(aws, "kms-rotation-phi-key", str(phi[2]))
    return [found[i] for i in CHECK_IDS]
