"""pytest's --profile option (here, at the root, so that it is known before tests/ is collected).

The profiles themselves are in tests/python/profiles.py and tests/python/conftest.py.
"""

from __future__ import annotations

import os

import pytest

PROFILES = ("default", "portable")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        choices=PROFILES,
        default=os.environ.get("VCF_PG_LOADER_TEST_PROFILE", "default"),
        help="default: the embedded cluster with both extensions; portable: an RDS-like"
        " server (pg_tle install by a non-superuser, no plpython3u, hostssl only)",
    )
