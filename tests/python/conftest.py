"""Shared fixtures: one throwaway embedded cluster per test run, in a temporary home."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CORPUS = REPO.parent / "shared" / "vcf-corpus"


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vcf-home")


@pytest.fixture(scope="session")
def cluster(home: Path) -> Iterator[Any]:
    from vcf_pg_loader.embedded import EmbeddedCluster

    c = EmbeddedCluster(home)
    c.ensure_ready()
    yield c
    c.destroy()


@pytest.fixture(scope="session")
def conninfo(cluster: Any) -> str:
    return str(cluster.conninfo())


@pytest.fixture
def conn(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(conninfo, autocommit=True) as c:
        yield c


@pytest.fixture
def vcfctl(home: Path, cluster: Any) -> Any:
    """Run the real CLI in a subprocess against the test cluster."""

    def run(
        *args: str, env: dict[str, str] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("VCF_PG_LOADER_")}
        full_env["VCF_PG_LOADER_HOME"] = str(home)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "vcf_pg_loader", *args],
            capture_output=True,
            text=True,
            env=full_env,
            timeout=600,
            **kw,
        )

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
