"""vcfctl audit anchor to S3 and verify --anchor from S3, against moto in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from click.testing import CliRunner
from moto import mock_aws

from vcf_pg_loader.cli import cli


@pytest.fixture
def run(home: Path, cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(
            cli, list(args), env={"VCF_PG_LOADER_HOME": str(home), **cluster.client_env()}
        )

    return invoke


def test_anchor_in_s3(run: Any, conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT vcf._audit('s3_anchor_test', NULL, true, '{}')")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="vcf-anchors")
        result = run("audit", "anchor", "-o", "s3://vcf-anchors/prod/head.json")
        assert result.exit_code == 0, result.output
        assert "to s3://vcf-anchors/prod/head.json" in result.output
        body = s3.get_object(Bucket="vcf-anchors", Key="prod/head.json")["Body"].read()
        anchor = json.loads(body)
        head = conn.execute(
            "SELECT chain_no, audit_id, encode(hash, 'hex') FROM vcf.audit_head()"
        ).fetchone()
        assert (anchor["chain_no"], anchor["audit_id"], anchor["hash"]) == head

        result = run("audit", "verify", "--anchor", "s3://vcf-anchors/prod/head.json")
        assert result.exit_code == 0, result.output
        assert f"matches the anchor of chain position {anchor['chain_no']}" in result.output

        forged = dict(anchor, hash="00" * 32)
        s3.put_object(Bucket="vcf-anchors", Key="prod/forged.json", Body=json.dumps(forged))
        result = run("audit", "verify", "--anchor", "s3://vcf-anchors/prod/forged.json")
        assert result.exit_code == 6
        assert "differs from the anchor" in result.output

        missing = run("audit", "verify", "--anchor", "s3://vcf-anchors/nothing.json")
        assert missing.exit_code != 0
        assert "cannot read the anchor s3://vcf-anchors/nothing.json" in str(missing.exception)
