"""Shared fixtures: one throwaway cluster per test run, in a temporary home.

Two profiles (``--profile``, or VCF_PG_LOADER_TEST_PROFILE): ``default``, the
embedded cluster with both extensions (superuser on the Unix socket), and
``portable``, an RDS-like server (tests/python/profiles.py). Markers say what
a test needs beyond what both profiles have:

* ``plpython``: the PL/Python companion (plpython3u): skipped in portable;
* ``own_cluster``: the test makes and configures its own clusters, so it is
  the same in both profiles: it runs in the default one only;
* ``embedded``: the test is about the embedded cluster itself (default only);
* ``extension_files``: the test installs from the server's extension files,
  which the portable server does not have;
* ``portable``: the test checks the portable server itself (portable only).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from profiles import make_server

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CORPUS = REPO.parent / "shared" / "vcf-corpus"


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("profile"))


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vcf-home")


@pytest.fixture(scope="session")
def cluster(home: Path, profile: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The server of the profile (profiles.DefaultServer or profiles.PortableServer)."""
    server = make_server(profile, home, tmp_path_factory.mktemp("server"))
    try:
        server.ensure_ready()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def new_server(profile: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Make and start another server of the profile (destroyed at the end of the module)."""
    made: list[Any] = []

    def make(home: Path | None = None) -> Any:
        work = tmp_path_factory.mktemp("server")
        server = make_server(profile, home or work / "home", work)
        made.append(server)
        server.ensure_ready()
        return server

    yield make
    for server in made:
        server.destroy()


@pytest.fixture(scope="session")
def conninfo(cluster: Any) -> str:
    """The owner of the extension: the superuser (default) or rds_admin over TLS (portable)."""
    return str(cluster.conninfo())


@pytest.fixture(scope="session")
def engines(profile: str) -> list[str]:
    """The ingest engines the profile's server has (no PL/Python in portable)."""
    return ["plpgsql"] if profile == "portable" else ["plpgsql", "plpython"]


@pytest.fixture(scope="session")
def owner(conninfo: str) -> str:
    """The role that owns the extension (and that conn, vcfctl and the tests act as)."""
    return str(conninfo_to_dict(conninfo)["user"])


@pytest.fixture(scope="session")
def superuser_conninfo(cluster: Any) -> str:
    """A superuser, for what only the server's operator does (on RDS: the parameter group)."""
    return str(cluster.superuser_conninfo())


@pytest.fixture
def superuser_conn(superuser_conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(superuser_conninfo, autocommit=True) as c:
        yield c


@pytest.fixture
def conn(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(conninfo, autocommit=True) as c:
        yield c


@pytest.fixture
def vcfctl(home: Path, cluster: Any) -> Any:
    """Run the real CLI in a subprocess against the test cluster (env= adds or overrides)."""
    server_env = cluster.client_env()

    def run(
        *args: str, env: dict[str, str] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        # nothing of the caller's vcfctl or libpq environment (PGHOST would name
        # a server): only what the test gives
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("VCF_PG_LOADER_", "PG"))
        }
        full_env["VCF_PG_LOADER_HOME"] = str(home)
        full_env.update(server_env)
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    portable = config.getoption("profile") == "portable"
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
        if not portable:
            if item.get_closest_marker("portable"):
                item.add_marker(pytest.mark.skip(reason="checks the portable profile's server"))
            continue
        if item.get_closest_marker("plpython"):
            item.add_marker(
                pytest.mark.skip(reason="portable profile: no plpython3u (as on AWS RDS)")
            )
        elif item.get_closest_marker("own_cluster"):
            item.add_marker(
                pytest.mark.skip(reason="makes its own clusters: runs in the default profile")
            )
        elif item.get_closest_marker("extension_files"):
            item.add_marker(
                pytest.mark.skip(reason="portable profile: no extension files (as on AWS RDS)")
            )
        elif item.get_closest_marker("embedded"):
            item.add_marker(
                pytest.mark.skip(reason="tests the embedded cluster: runs in the default profile")
            )
