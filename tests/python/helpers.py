"""Helpers for tests: counting rows, reading keys back, writing VCF files."""

from __future__ import annotations

import base64
import gzip
import math
import os
import pty
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from profiles import PASSWORD
from vcf_pg_loader.crypto import DataKey
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import load_data_key

TABLES = (
    "sessions",
    "staged_blocks",
    "samples",
    "session_samples",
    "variants",
    "records",
    "calls",
    "data_keys",
)


def table_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    out = {}
    for t in TABLES:
        row = conn.execute(f"SELECT count(*) FROM vcf.{t}").fetchone()
        assert row is not None
        out[t] = int(row[0])
    return out


def phi_key(conn: psycopg.Connection[Any], home: Path) -> DataKey:
    row = conn.execute("SELECT vcf.active_phi_key_id()").fetchone()
    assert row is not None
    return load_data_key(conn, LocalMasterKey(home / "master.key"), uuid.UUID(str(row[0])))


def write_vcf(
    path: Path,
    samples: list[str],
    records: list[str],
    *,
    header_extra: str = "",
    compress: bool = False,
) -> Path:
    lines = [
        "##fileformat=VCFv4.2",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "##contig=<ID=chr1>",
    ]
    if header_extra:
        lines.append(header_extra)
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *samples]
    lines.append("\t".join(cols))
    text = "\n".join(lines + records) + "\n"
    if compress:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def synthetic_records(n: int, n_samples: int, start: int = 1) -> list[str]:
    """n biallelic records on chr1 with GT for each sample."""
    gts = ["0/0", "0/1", "1/1", "0|1", "./."]
    out = []
    for i in range(n):
        pos = start + i * 10
        calls = "\t".join(gts[(i + s) % len(gts)] for s in range(n_samples))
        fmt = "\tGT\t" + calls if n_samples else ""
        out.append(f"chr1\t{pos}\t.\tA\tG\t50\tPASS\tDP={i % 100}{fmt}")
    return out


def staging_key(conn: psycopg.Connection[Any], home: Path, session_id: uuid.UUID) -> DataKey:
    """The plaintext staging key of a staged session (tests only: to unlock or search for it)."""
    row = conn.execute(
        "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (session_id,)
    ).fetchone()
    assert row is not None
    return load_data_key(
        conn,
        LocalMasterKey(home / "master.key"),
        uuid.UUID(str(row[0])),
        {"session_id": str(session_id)},
    )


def same_rows(a: Any, b: Any) -> bool:
    """Equality of fetched rows in which NaN equals NaN (a QUAL of nan loads as NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_rows(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def dump_form(data: bytes) -> bytes:
    """Bytes as PostgreSQL's node dumps print a datum (debug_print_plan...): signed decimals."""
    return " ".join(str(b - 256 if b > 127 else b) for b in data).encode()


def key_forms(key: bytes) -> list[bytes]:
    """Every form a key could leak in: raw, hex, base64 (padded, unpadded, url-safe)."""
    return [
        key,
        key.hex().encode(),
        key.hex().upper().encode(),
        base64.b64encode(key),
        base64.b64encode(key).rstrip(b"="),
        base64.urlsafe_b64encode(key).rstrip(b"="),
    ]


# How tests create a login: the password is the portable profile's (its passfile
# matches any user); in the default profile the socket trusts and ignores it.
LOGIN = f"LOGIN PASSWORD '{PASSWORD}'"


LOOPBACK = "vcf_audit_loopback"


def break_loopback(conn: psycopg.Connection[Any], options: str) -> None:
    """Point the audit loopback (vcf._audit_loopback) at a server that cannot take rows.

    The profile's own loopback, if it has one (portable), is renamed aside;
    restore_loopback puts it back, or a rollback does when this ran in a
    transaction. options: the foreign server's OPTIONS (...) list.
    """
    if conn.execute("SELECT 1 FROM pg_foreign_server WHERE srvname = %s", (LOOPBACK,)).fetchone():
        conn.execute(f"ALTER SERVER {LOOPBACK} RENAME TO {LOOPBACK}_saved")
    conn.execute(f"CREATE SERVER {LOOPBACK} FOREIGN DATA WRAPPER dblink_fdw OPTIONS ({options})")
    conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {LOOPBACK}")


def restore_loopback(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"DROP SERVER {LOOPBACK} CASCADE")
    saved = f"{LOOPBACK}_saved"
    if conn.execute("SELECT 1 FROM pg_foreign_server WHERE srvname = %s", (saved,)).fetchone():
        conn.execute(f"ALTER SERVER {saved} RENAME TO {LOOPBACK}")


def foreign_servers(conn: psycopg.Connection[Any]) -> list[str]:
    return [r[0] for r in conn.execute("SELECT srvname FROM pg_foreign_server ORDER BY 1")]


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """vcfctl with its stderr on a pseudo-terminal: exit status and what it wrote there.

    The terminal is read while vcfctl runs, so progress output cannot fill it
    and block the writer."""
    leader, follower = pty.openpty()
    try:
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VCF_PG_LOADER_", "PG"))
        }
        full_env.update(env, COLUMNS="300")
        proc = subprocess.Popen(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            env=full_env,
        )
        os.close(follower)
        out = b""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break  # exited, and nothing more to read (a server it started may hold the tty)
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(timeout=60), out.decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(leader)
