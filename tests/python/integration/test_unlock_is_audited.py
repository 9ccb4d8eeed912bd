"""A key is usable only through vcf.unlock, which audits it (issue 9, item 6).

vcf.unlock(key_id, key) keeps the key in a transaction-local setting, which
any caller can also write with SET LOCAL. A caller who knows a key (a loader
in client mode holds the master key) could so make it usable without the
unlock audit row. The extension now uses a key from that setting only when
vcf.unlock wrote its audit row in the same transaction.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from helpers import phi_key, staging_key, synthetic_records, write_vcf
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import unlock
from vcf_pg_loader.staging import stage_file


def _setting(key_id: uuid.UUID) -> str:
    return f"vcf_pg_loader.unlocked_{key_id.hex}"


def test_a_key_set_by_hand_opens_nothing(
    conn: psycopg.Connection[Any], conninfo: str, home: Path, tmp_path: Path
) -> None:
    path = write_vcf(
        tmp_path / "s.vcf", [f"SETLOCAL-{uuid.uuid4().hex[:8]}"], synthetic_records(5, 1)
    )
    staged = stage_file(conn, LocalMasterKey(home / "master.key"), path)
    keys = [staging_key(conn, home, staged.session_id), phi_key(conn, home)]
    head = conn.execute("SELECT coalesce(max(audit_id), 0) FROM vcf.audit_log").fetchone()[0]  # type: ignore[index]
    with psycopg.connect(conninfo) as client:  # one transaction
        for key in keys:
            client.execute(
                "SELECT set_config(%s, %s, true)", (_setting(key.key_id), key.material.hex())
            )
        with pytest.raises(psycopg.Error) as refused:
            client.execute("SELECT * FROM vcf.vcf_ingest(%s)", (staged.session_id,))
        assert refused.value.diag.sqlstate == "VP004"
        client.rollback()
    rows = conn.execute(
        "SELECT action, target, succeeded FROM vcf.audit_log WHERE audit_id > %s ORDER BY audit_id",
        (head,),
    ).fetchall()
    assert rows == [("ingest", str(staged.session_id), False)]
    state = conn.execute(
        "SELECT state FROM vcf.sessions WHERE session_id = %s", (staged.session_id,)
    )
    assert state.fetchone() == ("staged",)

    # The same keys through vcf.unlock: audited, and the ingest goes through.
    with psycopg.connect(conninfo) as client:
        for key in keys:
            unlock(client, key)
        row = client.execute(
            "SELECT state FROM vcf.vcf_ingest(%s)", (staged.session_id,)
        ).fetchone()
        assert row == ("ingested",)
    unlocks = conn.execute(
        "SELECT target FROM vcf.audit_log WHERE action = 'unlock' AND succeeded AND audit_id > %s",
        (head,),
    ).fetchall()
    assert sorted(r[0] for r in unlocks) == sorted(str(k.key_id) for k in keys)


def test_an_unlock_rolled_back_to_a_savepoint_is_gone_with_its_key(
    conn: psycopg.Connection[Any], conninfo: str, home: Path
) -> None:
    phi = phi_key(conn, home)
    with psycopg.connect(conninfo) as client:
        client.execute("SAVEPOINT s")
        unlock(client, phi)
        client.execute("ROLLBACK TO SAVEPOINT s")
        # Put the key back by hand: the audit row went with the savepoint.
        client.execute(
            "SELECT set_config(%s, %s, true)", (_setting(phi.key_id), phi.material.hex())
        )
        with pytest.raises(psycopg.Error) as refused:
            client.execute("SELECT vcf.find_sample('nobody')")
        assert refused.value.diag.sqlstate == "VP004"
