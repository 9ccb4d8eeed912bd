"""Released install scripts are frozen, and every version has its upgrade script.

extension/released/ keeps the install script of every released version as it
shipped (SHA256SUMS: an edit shows here), so that a server can still create
it and the inventory test can upgrade from it. Each version after the first
ships a hand-written upgrade script from the one before.
"""

from __future__ import annotations

import hashlib
import itertools
import re

from vcf_pg_loader import EXTENSION_VERSION, tle

RELEASED = tle.RELEASED_DIR


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def test_released_scripts_match_their_checksums() -> None:
    sums = {}
    for line in (RELEASED / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    on_disk = {p.name for p in RELEASED.glob("*.sql")}
    assert on_disk == set(sums), "released/ and SHA256SUMS list different files"
    for name, digest in sums.items():
        assert hashlib.sha256((RELEASED / name).read_bytes()).hexdigest() == digest, name


def test_each_version_has_an_upgrade_script_from_the_previous_one() -> None:
    versions = sorted(
        {
            m[1]
            for p in RELEASED.glob(f"{tle.EXTENSION}--*.sql")
            if (m := re.fullmatch(rf"{tle.EXTENSION}--([0-9.]+)\.sql", p.name))
        }
        | {EXTENSION_VERSION},
        key=_version,
    )
    assert versions[0] == "0.1.0" and versions[-1] == EXTENSION_VERSION
    for old, new in itertools.pairwise(versions):
        script = tle.EXTENSION_DIR / f"{tle.EXTENSION}--{old}--{new}.sql"
        assert script.is_file(), f"no upgrade script {script.name}"
        text = tle.load_script(script)  # pg_tle takes it: no psql meta-command
        assert "_pin_settings('vcf_pg_loader')" in text, f"{script.name} does not re-pin"
        assert "'extension_update'" in text, f"{script.name} writes no audit row"


def test_the_current_version_is_not_frozen_yet() -> None:
    """Sources change until the release; the Makefile refuses a frozen version that differs."""
    assert not (RELEASED / f"{tle.EXTENSION}--{EXTENSION_VERSION}.sql").exists()
