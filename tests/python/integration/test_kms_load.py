"""Loading with aws-kms data keys (moto in-process): an embedded cluster bootstrapped
with a KMS PHI key and no master key file, staging and ingest through KMS, names read
back, and a changed encryption context refused with nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from helpers import synthetic_records, table_counts, write_vcf
from vcf_pg_loader.cli.samples_cmd import reveal_sample
from vcf_pg_loader.config import Settings
from vcf_pg_loader.errors import KeyError_
from vcf_pg_loader.ingest import ingest_session
from vcf_pg_loader.keys.providers import ProviderSet
from vcf_pg_loader.staging import stage_file


@dataclass
class Kms:
    conninfo: str
    home: Path
    arn: str
    providers: ProviderSet


@pytest.fixture(scope="module")
def kms_cluster(
    tmp_path_factory: pytest.TempPathFactory, profile: str, cluster: Any
) -> Iterator[Kms]:
    """Default: an embedded cluster bootstrapped with KMS. Portable: a database of the
    RDS-like server whose PHI key is made under KMS (vcfctl keys init does the same)."""
    from vcf_pg_loader.embedded import EmbeddedCluster
    from vcf_pg_loader.keys.registry import init_phi_key

    home = tmp_path_factory.mktemp("kms-home")
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_REGION", "eu-central-1")
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        kms = boto3.client("kms", region_name="eu-central-1")
        arn = kms.create_key(Description="vcf phi")["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/vcf-test", TargetKeyId=arn)
        providers = ProviderSet(
            Settings(home=home, key_provider="aws-kms", kms_key_id="alias/vcf-test")
        )
        if profile == "portable":
            url = cluster.create_database("kms_load")
            try:
                with psycopg.connect(url, autocommit=True) as c:
                    init_phi_key(c, providers)
                yield Kms(url, home, str(arn), providers)
            finally:
                cluster.drop_database("kms_load")
            return
        embedded = EmbeddedCluster(home, providers=providers)
        try:
            yield Kms(embedded.ensure_ready(), home, str(arn), providers)
        finally:
            embedded.destroy()


@pytest.fixture
def kconn(kms_cluster: Kms) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(kms_cluster.conninfo, autocommit=True) as c:
        yield c


def test_bootstrap_makes_a_kms_phi_key_and_no_master_key(
    kms_cluster: Kms, kconn: psycopg.Connection[Any]
) -> None:
    assert not (kms_cluster.home / "master.key").exists()
    rows = kconn.execute(
        "SELECT provider, kek_id, state FROM vcf.data_keys WHERE purpose = 'phi'"
    ).fetchall()
    assert rows == [("aws-kms", kms_cluster.arn, "active")]


def test_load_with_kms_keys_and_read_names_back(
    kms_cluster: Kms, kconn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [f"KMS Patient {tag}", f"KMS-{tag}-Ü"]
    path = write_vcf(tmp_path / "k.vcf", names, synthetic_records(5, 2))
    staged = stage_file(kconn, kms_cluster.providers, path)
    row = kconn.execute(
        "SELECT k.provider, k.kek_id, k.encryption_context FROM vcf.sessions s"
        " JOIN vcf.data_keys k ON k.key_id = s.staging_key_id WHERE s.session_id = %s",
        (staged.session_id,),
    ).fetchone()
    assert row is not None
    assert (row[0], row[1]) == ("aws-kms", kms_cluster.arn)
    assert row[2]["session_id"] == str(staged.session_id) and row[2]["purpose"] == "staging"
    result = ingest_session(kconn, kms_cluster.providers, staged.session_id)
    assert (result.state, result.records, result.samples) == ("ingested", 5, 2)
    ids = [
        int(r[0])
        for r in kconn.execute(
            "SELECT sample_id FROM vcf.session_samples WHERE session_id = %s ORDER BY sample_index",
            (staged.session_id,),
        ).fetchall()
    ]
    # A provider set with no KMS key configured still unwraps: the ARN is stored.
    reader = ProviderSet(Settings(home=kms_cluster.home))
    assert [reveal_sample(kconn, reader, i, "kms test") for i in ids] == names


@pytest.mark.parametrize("which", ["phi", "staging"])
def test_changed_encryption_context_is_refused_and_nothing_changes(
    kms_cluster: Kms, kconn: psycopg.Connection[Any], tmp_path: Path, which: str
) -> None:
    path = write_vcf(tmp_path / "c.vcf", [f"Ctx {uuid.uuid4().hex}"], synthetic_records(3, 1))
    staged = stage_file(kconn, kms_cluster.providers, path)
    key_id = kconn.execute(
        "SELECT CASE WHEN %s = 'phi' THEN vcf.active_phi_key_id() ELSE staging_key_id END"
        " FROM vcf.sessions WHERE session_id = %s",
        (which, staged.session_id),
    ).fetchone()[0]  # type: ignore[index]
    kconn.execute(
        'UPDATE vcf.data_keys SET encryption_context = encryption_context || \'{"database": "x"}\''
        " WHERE key_id = %s",
        (key_id,),
    )
    before = table_counts(kconn)
    try:
        with pytest.raises(KeyError_) as err:
            ingest_session(kconn, kms_cluster.providers, staged.session_id)
        assert "encryption context does not match" in str(err.value)
        assert "\n" not in str(err.value) and err.value.hint
        assert table_counts(kconn) == before
        assert kconn.execute(
            "SELECT state FROM vcf.sessions WHERE session_id = %s", (staged.session_id,)
        ).fetchone() == ("staged",)
    finally:
        kconn.execute(
            "UPDATE vcf.data_keys SET encryption_context = encryption_context - 'database'"
            " || jsonb_build_object('database', current_database()) WHERE key_id = %s",
            (key_id,),
        )
    # With the context restored, the same session ingests.
    assert ingest_session(kconn, kms_cluster.providers, staged.session_id).state == "ingested"


def test_keys_are_never_stored_in_the_clear(
    kms_cluster: Kms, kconn: psycopg.Connection[Any]
) -> None:
    key_id = kconn.execute("SELECT vcf.active_phi_key_id()").fetchone()[0]  # type: ignore[index]
    from vcf_pg_loader.keys.registry import load_data_key

    key = load_data_key(kconn, kms_cluster.providers, uuid.UUID(str(key_id)))
    dumped = kconn.execute(
        "SELECT string_agg(coalesce(encode(wrapped_key, 'hex'), '') || encryption_context::text"
        " || kek_id, ' ') FROM vcf.data_keys"
    ).fetchone()[0]  # type: ignore[index]
    assert key.material.hex() not in dumped


@pytest.mark.embedded
def test_bootstrap_with_local_refuses_to_make_a_master_key(kms_cluster: Kms) -> None:
    """The same cluster, started without the KMS configuration: no new master key."""
    from vcf_pg_loader.embedded import EmbeddedCluster
    from vcf_pg_loader.errors import VcfPgError

    with pytest.raises(VcfPgError, match="PHI key is wrapped by aws-kms") as err:
        EmbeddedCluster(kms_cluster.home).ensure_ready()
    assert err.value.hint and "VCF_PG_LOADER_KMS_KEY_ID" in err.value.hint
    assert not (kms_cluster.home / "master.key").exists()
