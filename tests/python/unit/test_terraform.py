"""deploy/terraform/ holds what the compliance checklist (docs/compliance.md) needs.

Every .tf file is parsed with python-hcl2 and the settings that `vcfctl compliance check`
verifies on a live deployment are asserted on the code that creates it: a customer KMS key
with rotation on, storage encrypted with it, rds.force_ssl = 1 in the instance's parameter
group, no ingress from the internet, IAM authentication, the PostgreSQL log export, backups
kept long enough, no setting that logs bind parameters, and the IAM split of
docs/security.md. The terraform binary is not available here, so a stand-in for
`terraform fmt -check` checks the layout rules fmt enforces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest

from vcf_pg_loader.compliance import MIN_BACKUP_RETENTION_DAYS

TF_DIR = Path(__file__).resolve().parents[3] / "deploy" / "terraform"
TF_FILES = sorted(TF_DIR.glob("*.tf"))
INTERNET = {"0.0.0.0/0", "::/0"}


def _plain(value: Any) -> Any:
    """python-hcl2 keeps the quotes of strings and labels and adds markers; drop both."""
    if isinstance(value, dict):
        markers = ("__is_block__", "__comments__")
        return {_plain(k): _plain(v) for k, v in value.items() if k not in markers}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        parsed: dict[str, Any] = _plain(hcl2.load(f))
    return parsed


@pytest.fixture(scope="module")
def tf() -> dict[str, list[dict[str, Any]]]:
    """All top-level blocks of every file, by block type (resource, data, variable, ...)."""
    assert TF_FILES, f"no .tf files in {TF_DIR}"
    out: dict[str, list[dict[str, Any]]] = {}
    for path in TF_FILES:
        for kind, blocks in _parse(path).items():
            out.setdefault(kind, []).extend(blocks)
    return out


def _labelled(tf: dict[str, list[dict[str, Any]]], kind: str, type_: str) -> dict[str, Any]:
    """{name: body} of every `kind "type_" "name"` block."""
    out: dict[str, Any] = {}
    for block in tf.get(kind, []):
        for t, named in block.items():
            if t == type_:
                out.update(named)
    return out


def _one(tf: dict[str, list[dict[str, Any]]], kind: str, type_: str) -> tuple[str, dict[str, Any]]:
    found = _labelled(tf, kind, type_)
    assert len(found) == 1, f"expected one {kind} {type_}, found {sorted(found)}"
    ((name, body),) = found.items()
    return name, body


def _ref(kind_type: str, name: str, attr: str) -> str:
    return "${" + f"{kind_type}.{name}.{attr}" + "}"


def _variable(tf: dict[str, list[dict[str, Any]]], name: str) -> dict[str, Any]:
    variables = {k: v for block in tf["variable"] for k, v in block.items()}
    body: dict[str, Any] = variables[name]
    return body


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of an aws_iam_policy_document, dynamic ones' content included."""
    out: list[dict[str, Any]] = list(doc.get("statement", []))
    for dyn in doc.get("dynamic", []):
        for content in dyn.get("statement", {}).get("content", []):
            out.append(content)
    return out


def _conditions(stmt: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {c["variable"]: (c["test"], c["values"]) for c in stmt.get("condition", [])}


def _policy_doc_of(tf: dict[str, list[dict[str, Any]]], policy: str) -> dict[str, Any]:
    body = _labelled(tf, "resource", "aws_iam_policy")[policy]
    m = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", body["policy"])
    assert m, f"aws_iam_policy.{policy} must use an aws_iam_policy_document: {body['policy']}"
    doc: dict[str, Any] = _labelled(tf, "data", "aws_iam_policy_document")[m.group(1)]
    return doc


def _kms_actions(doc: dict[str, Any], effect: str = "Allow") -> dict[str, list[dict[str, Any]]]:
    """{kms action: [statements granting it]} for one effect."""
    out: dict[str, list[dict[str, Any]]] = {}
    for stmt in _statements(doc):
        if stmt.get("effect", "Allow") != effect:
            continue
        for action in stmt["actions"]:
            out.setdefault(action, []).append(stmt)
    return out


# --- the checklist ---------------------------------------------------------------------


def test_providers_are_pinned(tf: dict[str, list[dict[str, Any]]]) -> None:
    (terraform,) = tf["terraform"]
    assert terraform.get("required_version")
    (providers,) = terraform["required_providers"]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> \d+\.\d+", providers["aws"]["version"])
    for name, spec in providers.items():
        assert spec.get("version"), f"provider {name} has no version constraint"


def test_kms_key_is_customer_managed_with_rotation(tf: dict[str, list[dict[str, Any]]]) -> None:
    """kms-rotation-storage-key / kms-rotation-phi-key."""
    name, key = _one(tf, "resource", "aws_kms_key")
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] >= 7
    _, alias = _one(tf, "resource", "aws_kms_alias")
    assert alias["name"] == "alias/vcf-phi"
    assert alias["target_key_id"] == _ref("aws_kms_key", name, "key_id")


def test_storage_encrypted_with_the_customer_key(tf: dict[str, list[dict[str, Any]]]) -> None:
    """rds-storage-encrypted: the customer key, not aws/rds (kms_key_id unset means aws/rds)."""
    key_name, _ = _one(tf, "resource", "aws_kms_key")
    _, db = _one(tf, "resource", "aws_db_instance")
    assert db["engine"] == "postgres"
    assert str(db["engine_version"]).split(".")[0] == "15"
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == _ref("aws_kms_key", key_name, "arn")
    assert "aws/rds" not in repr(db)


def test_parameter_group_forces_ssl_and_preloads_pg_tle(
    tf: dict[str, list[dict[str, Any]]],
) -> None:
    """rds-force-ssl, in the group the instance uses; pg_tle for vcfctl db install --via pg_tle."""
    group_name, group = _one(tf, "resource", "aws_db_parameter_group")
    _, db = _one(tf, "resource", "aws_db_instance")
    assert db["parameter_group_name"] == _ref("aws_db_parameter_group", group_name, "name")
    assert group["family"] == "postgres15"
    params = {p["name"]: p for p in group["parameter"]}
    assert params["rds.force_ssl"]["value"] == "1"
    preload = params["shared_preload_libraries"]
    assert "pg_tle" in preload["value"].split(",")
    assert preload["apply_method"] == "pending-reboot"


def test_parameter_group_logs_no_bind_parameters(tf: dict[str, list[dict[str, Any]]]) -> None:
    """logging-bind-parameters: the rules of vcfctl doctor's logging_findings."""
    _, group = _one(tf, "resource", "aws_db_parameter_group")
    params = {p["name"]: p["value"] for p in group["parameter"]}
    assert params["log_statement"] == "none"
    assert params["log_min_duration_statement"] == "-1"
    assert params["log_parameter_max_length"] == "0"
    assert params["log_parameter_max_length_on_error"] == "0"
    assert "log_min_duration_sample" not in params
    assert "log_statement_sample_rate" not in params


def test_instance_settings_of_the_checklist(tf: dict[str, list[dict[str, Any]]]) -> None:
    """rds-iam-auth, rds-cloudwatch-logs, rds-backup-retention, and the instance's exposure."""
    _, db = _one(tf, "resource", "aws_db_instance")
    assert db["iam_database_authentication_enabled"] is True
    assert "postgresql" in db["enabled_cloudwatch_logs_exports"]
    assert db["publicly_accessible"] is False
    assert db["deletion_protection"] is True
    assert db["skip_final_snapshot"] is False
    assert db["copy_tags_to_snapshot"] is True

    retention = db["backup_retention_period"]
    if retention == "${var.backup_retention_period}":
        variable = _variable(tf, "backup_retention_period")
        assert variable["default"] >= MIN_BACKUP_RETENTION_DAYS
        conditions = [v["condition"] for v in variable.get("validation", [])]
        assert f"${{var.backup_retention_period >= {MIN_BACKUP_RETENTION_DAYS}}}" in conditions
    else:
        assert retention >= MIN_BACKUP_RETENTION_DAYS


def test_no_ingress_from_the_internet(tf: dict[str, list[dict[str, Any]]]) -> None:
    """rds-security-groups: 5432 only, never 0.0.0.0/0 or ::/0, and the variable refuses them."""
    sg_name, sg = _one(tf, "resource", "aws_security_group")
    _, db = _one(tf, "resource", "aws_db_instance")
    assert db["vpc_security_group_ids"] == [_ref("aws_security_group", sg_name, "id")]
    for rule in sg["ingress"]:
        assert rule["from_port"] == rule["to_port"] == 5432
        assert rule["protocol"] == "tcp"
        for attr in ("cidr_blocks", "ipv6_cidr_blocks"):
            value = rule.get(attr, [])
            if isinstance(value, str):
                assert value == "${var.allowed_cidr_blocks}", f"{attr} = {value}"
            else:
                assert not INTERNET & set(value)
    (lifecycle,) = sg["lifecycle"]
    (precondition,) = lifecycle["precondition"]
    assert "var.allowed_cidr_blocks" in precondition["condition"]
    assert "var.allowed_security_group_ids" in precondition["condition"]
    for kind in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
        assert not _labelled(tf, "resource", kind), f"rules must be inline: {kind}"

    variable = _variable(tf, "allowed_cidr_blocks")
    assert variable["default"] == []
    (validation,) = variable["validation"]
    assert all(cidr in validation["condition"] for cidr in INTERNET)
    assert "!contains(" in validation["condition"]
    for path in TF_FILES:
        body = path.read_text(encoding="utf-8")
        for line in body.splitlines():
            if "0.0.0.0/0" in line or "::/0" in line:
                assert "condition" in line or "description" in line or "error_message" in line, (
                    f"{path.name}: {line.strip()}"
                )


def test_secret_is_encrypted_with_the_key_and_has_what_vcfctl_reads(
    tf: dict[str, list[dict[str, Any]]],
) -> None:
    key_name, _ = _one(tf, "resource", "aws_kms_key")
    secret_name, secret = _one(tf, "resource", "aws_secretsmanager_secret")
    assert secret["kms_key_id"] == _ref("aws_kms_key", key_name, "arn")
    _, version = _one(tf, "resource", "aws_secretsmanager_secret_version")
    assert version["secret_id"] == _ref("aws_secretsmanager_secret", secret_name, "id")
    body = version["secret_string"]
    assert body.startswith("${jsonencode(")
    for field in ("username", "password", "host", "port", "dbname"):
        assert re.search(rf"\b{field} = ", body), field


def test_loader_policy_connects_and_only_generates_staging_keys(
    tf: dict[str, list[dict[str, Any]]],
) -> None:
    """docs/security.md, "The IAM split with aws-kms": the loader's row."""
    key_name, _ = _one(tf, "resource", "aws_kms_key")
    db_name, _ = _one(tf, "resource", "aws_db_instance")
    doc = _policy_doc_of(tf, "loader")
    allowed = _kms_actions(doc)

    (connect,) = allowed["rds-db:connect"]
    (resource,) = connect["resources"]
    assert ":dbuser:" + _ref("aws_db_instance", db_name, "resource_id") + "/" in resource

    kms = {a for a in allowed if a.startswith("kms:")}
    assert kms == {"kms:GenerateDataKey"}, "the loader needs no other KMS action"
    (generate,) = allowed["kms:GenerateDataKey"]
    assert generate["resources"] == [_ref("aws_kms_key", key_name, "arn")]
    assert _conditions(generate) == {"kms:EncryptionContext:purpose": ("StringEquals", ["staging"])}
    assert not any("*" in a for a in allowed), "no wildcard actions"


def test_server_policy_decrypts_staging_and_phi(tf: dict[str, list[dict[str, Any]]]) -> None:
    """docs/security.md: the database server's row (in-server unwrapping, key generation)."""
    key_name, _ = _one(tf, "resource", "aws_kms_key")
    doc = _policy_doc_of(tf, "server")
    allowed = _kms_actions(doc)
    assert set(allowed) == {"kms:Decrypt", "kms:GenerateDataKey"}
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        (stmt,) = allowed[action]
        assert stmt["resources"] == [_ref("aws_kms_key", key_name, "arn")]
        test, values = _conditions(stmt)["kms:EncryptionContext:purpose"]
        assert test == "StringEquals"
        assert sorted(values) == ["phi", "staging"]


def test_key_policy_keeps_phi_decrypt_for_the_server_and_readers(
    tf: dict[str, list[dict[str, Any]]],
) -> None:
    """The runbook's key policy: IAM policies take effect; Decrypt on purpose = phi is denied
    to everyone but the named principals (when they are named)."""
    _, key = _one(tf, "resource", "aws_kms_key")
    m = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", key["policy"])
    assert m, key["policy"]
    doc = _labelled(tf, "data", "aws_iam_policy_document")[m.group(1)]
    statements = _statements(doc)

    root = [s for s in statements if s["effect"] == "Allow" and s["actions"] == ["kms:*"]]
    assert len(root) == 1
    (principals,) = root[0]["principals"]
    assert principals["identifiers"] == ["arn:${local.partition}:iam::${local.account_id}:root"]

    (deny,) = [s for s in statements if s["effect"] == "Deny"]
    assert deny["actions"] == ["kms:Decrypt"]
    conditions = _conditions(deny)
    assert conditions["kms:EncryptionContext:purpose"] == ("StringEquals", ["phi"])
    test, values = conditions["aws:PrincipalArn"]
    assert test == "ArnNotLike"
    assert "var.phi_decrypt_principal_arns" in values


# --- stand-in for `terraform fmt -check` ------------------------------------------------

_ATTR = re.compile(
    r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*|\"[^\"]*\")(?P<pad> +)=(?P<post> *)(?P<value>.*)$"
)


def _bracket_delta(text: str) -> int:
    """Net opening brackets outside string literals (`${` and its `}` balance out)."""
    delta = 0
    in_string = False
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = in_string
        elif ch == '"':
            in_string = not in_string
        elif not in_string and ch in "([{":
            delta += 1
        elif not in_string and ch in ")]}":
            delta -= 1
    return delta


def _fmt_problems(path: Path) -> Iterator[str]:
    """The layout rules `terraform fmt` enforces that this code base can break.

    Not terraform fmt itself (no terraform binary here): no tabs, no trailing whitespace, a
    final newline and no blank line at the end, two-space indentation following the
    brackets as hclwrite counts them, one space after `=`, one space before it when the
    value spans lines (hclwrite leaves such a line out of the alignment, which ends there),
    and the `=` of consecutive single-line attributes at one column, one space after the
    longest name (a blank line, a comment, a block or a multi-line value ends the run).
    """
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n") or text.endswith("\n\n"):
        yield f"{path.name}: must end with exactly one newline"
    lines = text.split("\n")[:-1]
    # As hclwrite's formatIndent: one level per line with a net increase of brackets
    # (`jsonencode({` is one level), closed by the line(s) that close them.
    opened: list[int] = []
    run: list[tuple[int, re.Match[str]]] = []

    def close_run() -> Iterator[str]:
        if run:
            longest = max(len(m.group("key")) for _, m in run)
            for n, m in run:
                want = longest - len(m.group("key")) + 1
                if len(m.group("pad")) != want:
                    yield f"{path.name}:{n}: '=' not aligned (want {want} space(s) after the name)"
        run.clear()

    for n, line in enumerate(lines, 1):
        if "\t" in line:
            yield f"{path.name}:{n}: tab"
        if line != line.rstrip():
            yield f"{path.name}:{n}: trailing whitespace"
        stripped = line.strip()
        net = 0 if stripped.startswith("#") else _bracket_delta(stripped)
        if net > 0:
            want_indent = 2 * len(opened)
            opened.append(net)
        else:
            closed = -net
            while closed > 0 and opened:
                if closed >= opened[-1]:
                    closed -= opened.pop()
                else:
                    opened[-1] -= closed
                    closed = 0
            want_indent = 2 * len(opened)
        if stripped and len(line) - len(line.lstrip(" ")) != want_indent:
            yield f"{path.name}:{n}: indent {len(line) - len(line.lstrip(' '))}, want {want_indent}"
        m = _ATTR.match(line)
        if m and m.group("post") != " ":
            yield f"{path.name}:{n}: one space after '='"
        if m and not stripped.startswith("#") and _bracket_delta(m.group("value")) <= 0:
            run.append((n, m))
        else:
            yield from close_run()
            if m and not stripped.startswith("#") and m.group("pad") != " ":
                yield f"{path.name}:{n}: one space before '=' of a multi-line attribute"
    yield from close_run()
    if opened:
        yield f"{path.name}: unbalanced brackets at the end"


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: p.name)
def test_fmt_check_stand_in(path: Path) -> None:
    """Stand-in for `terraform fmt -check` (run the real one where terraform is installed)."""
    assert list(_fmt_problems(path)) == []


def test_fmt_stand_in_catches_misalignment(tmp_path: Path) -> None:
    """The stand-in itself finds what fmt would rewrite."""
    bad = tmp_path / "bad.tf"
    bad.write_text(
        'resource "x" "y" {\n'
        '  name = "a"\n'
        '  description = "b"\n'
        "   extra       = 1\n"
        "  tags  = {\n"
        '    k = "v"\t\n'
        "  }\n"
        "  other =  2\n"
        "}\n",
        encoding="utf-8",
    )
    problems = "\n".join(_fmt_problems(bad))
    assert "bad.tf:2: '=' not aligned" in problems
    assert "bad.tf:4: indent 3, want 2" in problems
    assert "bad.tf:5: one space before '='" in problems
    assert "bad.tf:6: tab" in problems
    assert "bad.tf:6: trailing whitespace" in problems
    assert "bad.tf:8: one space after '='" in problems
    good = tmp_path / "good.tf"
    good.write_text(
        'resource "x" "y" {\n'
        '  name        = "a"\n'
        '  description = "b"\n'
        "\n"
        "  tags = {\n"
        '    k = "v"\n'
        "  }\n"
        "}\n",
        encoding="utf-8",
    )
    assert list(_fmt_problems(good)) == []
