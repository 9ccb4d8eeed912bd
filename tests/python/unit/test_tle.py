"""The install script as pg_tle receives it: psql's guard removed, nothing else psql-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcf_pg_loader import EXTENSION_VERSION, tle
from vcf_pg_loader.errors import VcfPgError


def test_guard_line_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "s.sql"
    path.write_text(
        "-- header\n"
        '\\echo Use "CREATE EXTENSION vcf_pg_loader CASCADE" to load this file. \\quit\n'
        "CREATE TABLE @extschema@.t (a int);\n"
    )
    assert tle.load_script(path) == "-- header\nCREATE TABLE @extschema@.t (a int);\n"


def test_another_meta_command_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sql"
    path.write_text("\\echo x \\quit\nSELECT 1;\n\\i other.sql\n")
    with pytest.raises(VcfPgError, match="meta-command"):
        tle.load_script(path)


def test_the_built_script_loads() -> None:
    path = tle.EXTENSION_DIR / f"vcf_pg_loader--{EXTENSION_VERSION}.sql"
    if not path.exists():
        pytest.skip("extension script not built (make -C extension)")
    text = tle.load_script(path)
    assert "\\quit" not in text and "CREATE FUNCTION @extschema@._audit_loopback" in text


def test_missing_script_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tle, "EXTENSION_DIR", tmp_path)
    with pytest.raises(VcfPgError) as missing:
        tle.script_path(EXTENSION_VERSION)
    assert missing.value.hint is not None and "make -C extension" in missing.value.hint


def test_an_older_version_comes_from_the_frozen_release() -> None:
    assert tle.script_path("0.1.0") == tle.RELEASED_DIR / "vcf_pg_loader--0.1.0.sql"
    with pytest.raises(VcfPgError) as unknown:
        tle.script_path("0.0.0-never")
    assert unknown.value.hint is not None and "0.1.0" in unknown.value.hint
