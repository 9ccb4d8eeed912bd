"""The audit trail from outside: verify its hash chain, export it, anchor its head.

The chain is computed and checked inside the database (vcf.audit_verify). What
only the outside can add is memory: an anchor (chain position, hash and time
of the head) kept in a file or an S3 object, out of reach of the database's
superusers, so that a later rewrite of the whole table, hashes recomputed, no
longer matches it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .errors import DatabaseError, VcfPgError

ANCHOR_FORMAT = "vcf-pg-loader audit anchor v1"


@dataclass(frozen=True)
class Anchor:
    """The chain head at one moment: enough to recognise that history later."""

    database: str
    chain_no: int
    audit_id: int
    hash: str
    logged_at: str
    anchored_at: str
    format: str = ANCHOR_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> Anchor:
        try:
            data = json.loads(text)
            if data.get("format") != ANCHOR_FORMAT:
                raise ValueError("not an anchor")
            hash_hex = str(data["hash"])
            bytes.fromhex(hash_hex)
            if len(hash_hex) != 64:
                raise ValueError("hash")
            return cls(
                database=str(data["database"]),
                chain_no=int(data["chain_no"]),
                audit_id=int(data["audit_id"]),
                hash=hash_hex.lower(),
                logged_at=str(data["logged_at"]),
                anchored_at=str(data["anchored_at"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise VcfPgError(
                f"{source} is not a vcf-pg-loader audit anchor",
                hint="Anchors are written by 'vcfctl audit anchor'.",
            ) from None


@dataclass(frozen=True)
class Verification:
    ok: bool
    rows_checked: int
    head_chain_no: int | None
    head_audit_id: int | None
    head_hash: str | None
    head_logged_at: str | None
    bad_chain_no: int | None
    bad_audit_id: int | None
    problem: str | None
    anchor: Anchor | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["anchor"] = asdict(self.anchor) if self.anchor else None
        return out


def _db_error(exc: psycopg.Error, what: str) -> VcfPgError:
    message = exc.diag.message_primary or type(exc).__name__
    if exc.diag.sqlstate == "42501":
        return VcfPgError(
            f"{what}: {message}", hint="Auditing needs the vcf_auditor role (vcfctl roles grant)."
        )
    return DatabaseError(f"{what}: {message}", hint=exc.diag.message_hint)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return str(value)


def verify(conn: psycopg.Connection[Any], anchor: Anchor | None = None) -> Verification:
    """Run vcf.audit_verify, against an anchor if one is given."""
    try:
        if anchor is not None:
            database = conn.execute("SELECT current_database()").fetchone()
            if database is not None and database[0] != anchor.database:
                raise VcfPgError(
                    f"the anchor is of database {anchor.database!r}, not {database[0]!r}"
                )
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT * FROM vcf.audit_verify(%s, %s)",
                (
                    anchor.chain_no if anchor else None,
                    bytes.fromhex(anchor.hash) if anchor else None,
                ),
            )
            row = cur.fetchone()
    except psycopg.Error as exc:
        raise _db_error(exc, "cannot verify the audit trail") from None
    assert row is not None
    head_hash = row["head_hash"]
    return Verification(
        ok=bool(row["ok"]),
        rows_checked=int(row["rows_checked"]),
        head_chain_no=row["head_chain_no"],
        head_audit_id=row["head_audit_id"],
        head_hash=bytes(head_hash).hex() if head_hash is not None else None,
        head_logged_at=_iso(row["head_logged_at"]),
        bad_chain_no=row["bad_chain_no"],
        bad_audit_id=row["bad_audit_id"],
        problem=row["problem"],
        anchor=anchor,
    )


def head(conn: psycopg.Connection[Any]) -> Anchor:
    """The current chain head, as an anchor."""
    try:
        row = conn.execute(
            "SELECT current_database(), h.chain_no, h.audit_id, h.hash, h.logged_at, now()"
            " FROM vcf.audit_head() h"
        ).fetchone()
    except psycopg.Error as exc:
        raise _db_error(exc, "cannot read the audit chain head") from None
    if row is None:
        raise VcfPgError("the audit trail is empty: there is no head to anchor")
    database, chain_no, audit_id, hash_, logged_at, now = row
    return Anchor(
        database=str(database),
        chain_no=int(chain_no),
        audit_id=int(audit_id),
        hash=bytes(hash_).hex(),
        logged_at=_iso(logged_at) or "",
        anchored_at=_iso(now) or "",
    )


def export_rows(
    conn: psycopg.Connection[Any], since: str | None = None, after_chain_no: int | None = None
) -> Iterator[dict[str, Any]]:
    """Chained audit rows in chain order, with hashes, streamed (server-side cursor).

    The export is itself audited (action 'audit_export'), committed when the
    iteration ends.
    """
    try:
        with (
            conn.transaction(),
            conn.cursor(name="vcf_audit_export", row_factory=dict_row) as cur,
        ):
            cur.execute(
                "SELECT audit_id, chain_no, logged_at, session_role, acting_role,"
                " client_addr::text AS client_addr, backend_pid, xact_id::text AS xact_id,"
                " action, target, succeeded, details, prev_hash, hash"
                " FROM vcf.audit_export(%s::timestamptz, %s)",
                (since, after_chain_no),
            )
            for row in cur:
                row["logged_at"] = _iso(row["logged_at"])
                row["prev_hash"] = bytes(row["prev_hash"]).hex()
                row["hash"] = bytes(row["hash"]).hex()
                yield row
    except psycopg.Error as exc:
        raise _db_error(exc, "cannot export the audit trail") from None


def _s3_location(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise VcfPgError(f"{url} is not an S3 object URL", hint="Use s3://bucket/key.")
    return bucket, key


def write_anchor(anchor: Anchor, target: str) -> str:
    """Write an anchor to a file (atomically) or to s3://bucket/key; return where."""
    body = anchor.to_json()
    if target.startswith("s3://"):
        import boto3

        bucket, key = _s3_location(target)
        try:
            boto3.client("s3").put_object(
                Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json"
            )
        except Exception as exc:  # botocore's errors are not typed
            raise VcfPgError(f"cannot write the anchor to {target}: {exc}") from None
        return target
    path = Path(target).expanduser()
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(fd, "w") as fh:
            fh.write(body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise VcfPgError(f"cannot write the anchor to {path}: {exc.strerror}") from None
    return str(path)


def read_anchor(source: str) -> Anchor:
    """Read an anchor from a file or from s3://bucket/key."""
    if source.startswith("s3://"):
        import boto3

        bucket, key = _s3_location(source)
        try:
            obj = boto3.client("s3").get_object(Bucket=bucket, Key=key)
            text = obj["Body"].read().decode("utf-8")
        except Exception as exc:  # botocore's errors are not typed
            raise VcfPgError(f"cannot read the anchor {source}: {exc}") from None
    else:
        try:
            text = Path(source).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VcfPgError(f"cannot read the anchor {source}: {exc}") from None
    return Anchor.from_json(text, source)
