"""vcfctl load / stage / ingest through the CLI and through SQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg

from conftest import DATA
from helpers import phi_key, staging_key, synthetic_records, write_vcf
from vcf_pg_loader.crypto import open_sealed

EXAMPLE = DATA / "example.vcf"


def test_load_example_json(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    result = vcfctl("load", "--reload", "--format", "json", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)
    assert set(entry) >= {
        "session_id",
        "file",
        "records",
        "variants",
        "calls",
        "samples",
        "warnings",
        "state",
    }
    assert entry["file"] == str(EXAMPLE)
    assert (entry["records"], entry["variants"], entry["calls"], entry["samples"]) == (6, 9, 27, 3)
    assert entry["state"] == "ingested" and entry["warnings"] == []
    sid = entry["session_id"]
    row = conn.execute(
        "SELECT state, records, variants, calls, samples FROM vcf.sessions WHERE session_id = %s",
        (sid,),
    ).fetchone()
    assert row == ("ingested", 6, 9, 27, 3)
    assert conn.execute(
        "SELECT count(*) FROM vcf.staged_blocks WHERE session_id = %s", (sid,)
    ).fetchone() == (0,)
    assert conn.execute(
        "SELECT k.state, k.wrapped_key IS NULL FROM vcf.sessions s"
        " JOIN vcf.data_keys k ON k.key_id = s.staging_key_id WHERE s.session_id = %s",
        (sid,),
    ).fetchone() == ("destroyed", True)


def test_genotypes_split_like_bcftools(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    result = vcfctl("load", "--reload", "--format", "json", str(EXAMPLE))
    sid = json.loads(result.stdout)[0]["session_id"]
    rows = conn.execute(
        "SELECT v.pos, v.alt, ss.sample_index, c.gt, c.phased"
        " FROM vcf.calls c JOIN vcf.records r USING (session_id, record_no, alt_no)"
        " JOIN vcf.variants v USING (variant_id)"
        " JOIN vcf.session_samples ss"
        " ON ss.session_id = c.session_id AND ss.sample_id = c.sample_id"
        " WHERE c.session_id = %s ORDER BY r.record_no, r.alt_no, ss.sample_index",
        (sid,),
    ).fetchall()
    got = {(pos, alt, i): (gt, phased) for pos, alt, i, gt, phased in rows}
    # bcftools norm -m-any tests/data/example.vcf: 1/2 -> 1/0 and 0/1; 1/3 -> 1/0, 0/0, 0/1
    assert got[(10352, "TA", 1)] == ([1, 0], False)
    assert got[(10352, "TAA", 1)] == ([0, 1], False)
    assert got[(10352, "TA", 3)] == ([None, None], False)
    assert got[(46001, "G", 1)] == ([1, 0], False)
    assert got[(46001, "C", 1)] == ([0, 0], False)
    assert got[(46001, "T", 1)] == ([0, 1], False)
    assert got[(46001, "C", 2)] == ([1, 1], False)
    assert got[(10616, "C", 2)] == ([1, 0], True)
    assert got[(50000, ".", 3)] == ([None], False)


def test_same_sample_name_same_sample_across_files(
    vcfctl: Any, conn: psycopg.Connection[Any], tmp_path: Path, home: Path
) -> None:
    a = write_vcf(tmp_path / "a.vcf", ["SHARED-PATIENT-1", "ONLY-A"], synthetic_records(3, 2))
    b = write_vcf(
        tmp_path / "b.vcf.gz",
        ["ONLY-B", "SHARED-PATIENT-1"],
        synthetic_records(3, 2),
        compress=True,
    )
    out = json.loads(vcfctl("load", "--reload", "--format", "json", str(a), str(b)).stdout)
    ids = []
    for entry in out:
        ids.append(
            dict(
                conn.execute(
                    "SELECT sample_index, sample_id FROM vcf.session_samples WHERE session_id = %s",
                    (entry["session_id"],),
                ).fetchall()
            )
        )
    assert ids[0][1] == ids[1][2]
    assert len({ids[0][2], ids[1][1], ids[0][1]}) == 3
    key = phi_key(conn, home)
    row = conn.execute(
        "SELECT name_enc FROM vcf.samples WHERE sample_id = %s", (ids[0][1],)
    ).fetchone()
    assert row is not None
    assert open_sealed(key, bytes(row[0]), f"vcf.samples.name:{ids[0][1]}") == b"SHARED-PATIENT-1"


def test_header_and_source_path_decrypt_with_phi_key(
    vcfctl: Any, conn: psycopg.Connection[Any], home: Path
) -> None:
    sid = json.loads(vcfctl("load", "--reload", "--format", "json", str(EXAMPLE)).stdout)[0][
        "session_id"
    ]
    row = conn.execute(
        "SELECT header_enc, source_enc FROM vcf.sessions WHERE session_id = %s", (sid,)
    ).fetchone()
    assert row is not None
    key = phi_key(conn, home)
    header = open_sealed(key, bytes(row[0]), f"vcf.sessions.header:{sid}").decode()
    assert header == "".join(
        line for line in EXAMPLE.read_text().splitlines(True) if line.startswith("#")
    )
    assert open_sealed(key, bytes(row[1]), f"vcf.sessions.source:{sid}").decode() == str(
        EXAMPLE.resolve()
    )


def test_stage_then_ingest_separately(vcfctl: Any, conn: psycopg.Connection[Any]) -> None:
    staged = vcfctl("stage", "--reload", str(EXAMPLE))
    assert staged.returncode == 0, staged.stderr
    sid = staged.stdout.strip()
    uuid.UUID(sid)
    row = conn.execute(
        "SELECT state, block_count, line_count FROM vcf.sessions WHERE session_id = %s", (sid,)
    ).fetchone()
    assert row == ("staged", 1, 20)
    blocks = conn.execute(
        "SELECT ciphertext FROM vcf.staged_blocks WHERE session_id = %s", (sid,)
    ).fetchall()
    assert len(blocks) == 1 and b"MRN-0042" not in bytes(blocks[0][0])
    done = vcfctl("ingest", "--format", "json", sid)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["variants"] == 9
    again = vcfctl("ingest", sid)
    assert again.returncode != 0
    assert "is ingested, not staged" in again.stderr


def test_ingest_from_sql_with_unlock(conn: psycopg.Connection[Any], home: Path) -> None:
    """What a SQL client does: unlock both keys in one transaction, SELECT vcf_ingest(...)."""
    from vcf_pg_loader.keys.local import LocalMasterKey
    from vcf_pg_loader.staging import stage_file

    provider = LocalMasterKey(home / "master.key")
    staged = stage_file(conn, provider, EXAMPLE, reload=True)
    staging = staging_key(conn, home, staged.session_id)
    phi = phi_key(conn, home)
    with conn.transaction(), conn.cursor(binary=True) as cur:
        cur.execute("SELECT vcf.unlock(%s, %b)", (staging.key_id, staging.material))
        cur.execute("SELECT vcf.unlock(%s, %b)", (phi.key_id, phi.material))
        cur.execute(
            "SELECT records, variants, calls, samples FROM vcf_ingest(%s)", (staged.session_id,)
        )
        assert cur.fetchone() == (6, 9, 27, 3)
    # the unlocked keys are gone with the transaction
    row = conn.execute(
        "SELECT current_setting('vcf_pg_loader.unlocked_' || replace(%s::text, '-', ''), true)",
        (phi.key_id,),
    ).fetchone()
    assert row is not None and not row[0]


def test_sites_only_and_many_blocks(
    conn: psycopg.Connection[Any], home: Path, tmp_path: Path
) -> None:
    from vcf_pg_loader.ingest import ingest_session
    from vcf_pg_loader.keys.local import LocalMasterKey
    from vcf_pg_loader.staging import stage_file

    provider = LocalMasterKey(home / "master.key")
    header = "\n".join(f'##INFO=<ID=K{i},Number=1,Type=String,Description="x">' for i in range(200))
    path = write_vcf(tmp_path / "sites.vcf", [], synthetic_records(3000, 0), header_extra=header)
    staged = stage_file(conn, provider, path, block_bytes=2048, reload=True)
    assert staged.blocks > 20
    done = ingest_session(conn, provider, staged.session_id)
    assert (done.records, done.variants, done.calls, done.samples) == (3000, 3000, 0, 0)


def test_load_table_output_and_help(vcfctl: Any) -> None:
    result = vcfctl("load", "--reload", str(EXAMPLE))
    assert result.returncode == 0
    assert "ingested" in result.stdout
    for args in (["--help"], ["load", "--help"], ["db", "--help"], ["sessions", "purge", "--help"]):
        helped = vcfctl(*args)
        assert helped.returncode == 0 and "Usage:" in helped.stdout
