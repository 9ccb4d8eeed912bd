"""No data key in the server log or pg_stat_activity, even at log_statement = 'all'.

The test loads (stage, then ingest), rotates the PHI key and rewraps every key
under KMS (moto's server on 127.0.0.1) on a cluster logging every statement,
while a thread snapshots pg_stat_activity; then it searches the log and the
snapshots for every key used, raw, hex and base64. A control run with
log_parameter_max_length = -1 shows that the search does find a key when the
server does log bind parameters, and that vcfctl doctor warns about it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from helpers import key_forms, synthetic_records, write_vcf
from vcf_pg_loader.crypto import DataKey
from vcf_pg_loader.keys.local import LocalMasterKey
from vcf_pg_loader.keys.registry import load_data_key

REGION = "us-east-1"


@dataclass
class Rig:
    home: Path
    cluster: Any
    tmp: Path
    aws: dict[str, str]
    keys: dict[uuid.UUID, bytes] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VCF_PG_LOADER_", "AWS_"))}
        env["VCF_PG_LOADER_HOME"] = str(self.home)
        env.update(self.cluster.client_env())
        env.update(self.aws)
        env.update(extra)
        return env

    def vcfctl(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            capture_output=True,
            text=True,
            env=self.env(**extra),
            timeout=600,
        )

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.cluster.conninfo(), autocommit=True)

    def superuser(self) -> psycopg.Connection[Any]:
        """For server settings (on RDS: the parameter group)."""
        return psycopg.connect(self.cluster.superuser_conninfo(), autocommit=True)

    def remember(self, key: DataKey) -> None:
        self.keys[key.key_id] = key.material

    def remember_phi_keys(self) -> None:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT key_id FROM vcf.data_keys WHERE purpose = 'phi' AND state <> 'destroyed'"
            ).fetchall()
            for (key_id,) in rows:
                provider = LocalMasterKey(self.home / "master.key")
                self.remember(load_data_key(conn, provider, uuid.UUID(str(key_id))))


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, new_server: Any
) -> Iterator[Rig]:
    home = tmp_path_factory.mktemp("nolog-home")
    cluster = new_server(home)
    aws = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    yield Rig(home, cluster, tmp_path_factory.mktemp("nolog-data"), aws)


def _set(rig: Rig, **settings: str) -> None:
    with rig.superuser() as conn:
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)  # the reload is asynchronous


class ActivitySnapshots:
    """Every query text pg_stat_activity shows, sampled until stopped."""

    def __init__(self, conninfo: str) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(conninfo,), daemon=True)

    def _run(self, conninfo: str) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            while not self._stop.is_set():
                for (query,) in conn.execute(
                    "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                ).fetchall():
                    self.seen.add(query or "")
                time.sleep(0.005)

    def __enter__(self) -> ActivitySnapshots:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _leaks(rig: Rig, haystack: bytes) -> list[str]:
    return [
        f"key {key_id} as form {i}"
        for key_id, material in rig.keys.items()
        for i, form in enumerate(key_forms(material))
        if form in haystack
    ]


def _stage_then_ingest(rig: Rig, name: str) -> None:
    path = write_vcf(rig.tmp / f"{name}.vcf", [f"{name} patient"], synthetic_records(5, 1))
    staged = rig.vcfctl("stage", "--format", "json", str(path))
    assert staged.returncode == 0, staged.stderr
    session_id = uuid.UUID(json.loads(staged.stdout)[0]["session_id"])
    with rig.connect() as conn:
        row = conn.execute(
            "SELECT staging_key_id FROM vcf.sessions WHERE session_id = %s", (session_id,)
        ).fetchone()
        assert row is not None
        rig.remember(
            load_data_key(
                conn,
                LocalMasterKey(rig.home / "master.key"),
                uuid.UUID(str(row[0])),
                {"session_id": str(session_id)},
            )
        )
    ingested = rig.vcfctl("ingest", str(session_id))
    assert ingested.returncode == 0, ingested.stderr


def test_load_rotate_rewrap_log_no_key(rig: Rig) -> None:
    _set(rig, log_statement="all")
    kms = boto3.client(
        "kms",
        region_name=REGION,
        endpoint_url=rig.aws["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    kms_key = kms.create_key(Description="vcf-pg-loader no-log test")["KeyMetadata"]["Arn"]
    log_start = rig.cluster.log_file.stat().st_size
    rig.remember_phi_keys()
    with ActivitySnapshots(rig.cluster.superuser_conninfo()) as activity:
        _stage_then_ingest(rig, "first")
        rotated = rig.vcfctl("keys", "rotate", "--batch-size", "1")
        assert rotated.returncode == 0, rotated.stderr
        rig.remember_phi_keys()
        _stage_then_ingest(rig, "second")
        rewrapped = rig.vcfctl("keys", "rewrap", "--to-kms-key-id", kms_key)
        assert rewrapped.returncode == 0, rewrapped.stderr
        revealed = rig.vcfctl(
            "samples", "reveal", "1", "--reason", "no-log test", "--format", "json"
        )
        assert revealed.returncode == 0, revealed.stderr
        assert json.loads(revealed.stdout)["name"] == "first patient"
    assert len(rig.keys) == 4  # two PHI keys, two staging keys
    log = rig.cluster.log_file.read_bytes()[log_start:]
    assert b"vcf.unlock" in log, "log_statement = 'all' was not in effect"
    assert _leaks(rig, log) == []
    assert any("vcf.unlock" in q for q in activity.seen)
    assert _leaks(rig, "\n".join(activity.seen).encode()) == []
    doctor = rig.vcfctl("doctor", "--format", "json")
    findings = {f["check"]: f for f in json.loads(doctor.stdout)}
    assert findings["log_statement"]["status"] == "ok"


def test_doctor_warns_when_the_server_would_log_keys(rig: Rig) -> None:
    """The control: with bind parameters logged, a key does reach the log, and doctor says so."""
    _set(rig, log_statement="all", log_parameter_max_length="-1")
    try:
        doctor = rig.vcfctl("doctor", "--format", "json")
        assert doctor.returncode == 1
        findings = {f["check"]: f for f in json.loads(doctor.stdout)}
        assert findings["log_statement"]["status"] == "warn"
        assert "log_parameter_max_length = 0" in findings["log_statement"]["detail"]
        assert "warning" in doctor.stderr
        log_start = rig.cluster.log_file.stat().st_size
        _stage_then_ingest(rig, "control")
        time.sleep(0.2)
        assert _leaks(rig, rig.cluster.log_file.read_bytes()[log_start:]) != []
    finally:
        _set(rig, log_statement="none", log_parameter_max_length="0")
    for setting, value, check in (
        ("log_min_duration_statement", "0", "log_min_duration_statement"),
        ("log_parameter_max_length_on_error", "-1", "log_parameter_max_length_on_error"),
    ):
        _set(rig, **{setting: value, "log_parameter_max_length": "-1"})
        try:
            doctor = rig.vcfctl("doctor", "--format", "json")
            findings = {f["check"]: f for f in json.loads(doctor.stdout)}
            assert doctor.returncode == 1 and findings[check]["status"] == "warn", doctor.stdout
        finally:
            _set(rig, **{setting: "-1" if setting.startswith("log_min") else "0"})
            _set(rig, log_parameter_max_length="0")
    clean = rig.vcfctl("doctor")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_doctor_warns_about_pgaudit_parameters_and_the_env_provider(rig: Rig) -> None:
    with rig.superuser() as conn:
        conn.execute("SET pgaudit.log_parameter = ''")  # PG 15: ALTER SYSTEM needs a known name
        conn.execute("ALTER SYSTEM SET pgaudit.log_parameter = 'on'")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)
    try:
        doctor = rig.vcfctl("doctor", "--format", "json")
        findings = {f["check"]: f for f in json.loads(doctor.stdout)}
        assert doctor.returncode == 1
        assert findings["pgaudit.log_parameter"]["status"] == "warn"
    finally:
        with rig.superuser() as conn:
            conn.execute("SET pgaudit.log_parameter = ''")
            conn.execute("ALTER SYSTEM RESET pgaudit.log_parameter")
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
    weak = rig.vcfctl(
        "doctor",
        "--format",
        "json",
        VCF_PG_LOADER_PHI_KEY=base64.b64encode(bytes(range(32))).decode(),
    )
    findings = {f["check"]: f for f in json.loads(weak.stdout)}
    assert weak.returncode == 1
    assert findings["key provider"]["status"] == "warn"
    assert "weaker" in findings["key provider"]["detail"]
    assert base64.b64encode(bytes(range(32))).decode() not in weak.stdout + weak.stderr
    clean = rig.vcfctl("doctor", "--format", "json")
    assert clean.returncode == 0, clean.stdout
