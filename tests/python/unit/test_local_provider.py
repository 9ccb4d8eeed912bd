"""The local master-key provider: file mode, wrapping, context binding, repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcf_pg_loader.errors import KeyError_
from vcf_pg_loader.keys.local import LocalMasterKey, create_master_key
from vcf_pg_loader.keys.provider import WrappedKey


@pytest.fixture
def master(tmp_path: Path) -> Path:
    path = tmp_path / "master.key"
    create_master_key(path)
    return path


def test_master_key_file_is_0600_and_32_bytes(master: Path) -> None:
    assert master.stat().st_mode & 0o777 == 0o600
    assert len(master.read_bytes()) == 32


def test_create_refuses_to_overwrite(master: Path) -> None:
    before = master.read_bytes()
    with pytest.raises(KeyError_):
        create_master_key(master)
    assert master.read_bytes() == before


def test_refuses_a_file_readable_by_others(master: Path) -> None:
    master.chmod(0o644)
    with pytest.raises(KeyError_, match="accessible by other users"):
        LocalMasterKey(master)


def test_refuses_missing_or_wrong_size(tmp_path: Path) -> None:
    with pytest.raises(KeyError_, match="does not exist"):
        LocalMasterKey(tmp_path / "nope")
    short = tmp_path / "short"
    short.write_bytes(b"x" * 16)
    short.chmod(0o600)
    with pytest.raises(KeyError_, match="32-byte"):
        LocalMasterKey(short)


def test_generate_and_unwrap(master: Path) -> None:
    provider = LocalMasterKey(master)
    material, wrapped = provider.generate({"purpose": "phi", "database": "d"})
    assert len(material) == 64
    assert material not in wrapped.wrapped
    assert provider.unwrap(wrapped) == material


def test_other_context_does_not_unwrap(master: Path) -> None:
    provider = LocalMasterKey(master)
    _, wrapped = provider.generate({"purpose": "staging", "session_id": "a"})
    moved = WrappedKey(
        wrapped.provider, wrapped.kek_id, wrapped.wrapped, {"purpose": "staging", "session_id": "b"}
    )
    with pytest.raises(KeyError_):
        provider.unwrap(moved)


def test_other_master_key_does_not_unwrap(master: Path, tmp_path: Path) -> None:
    _, wrapped = LocalMasterKey(master).generate({"purpose": "phi"})
    other = tmp_path / "other.key"
    create_master_key(other)
    with pytest.raises(KeyError_, match="wrapped by master key"):
        LocalMasterKey(other).unwrap(wrapped)


def test_repr_hides_key(master: Path) -> None:
    provider = LocalMasterKey(master)
    key = master.read_bytes()
    text = repr(provider)
    assert key.hex() not in text and "redacted" in text
    _, wrapped = provider.generate({"purpose": "phi"})
    assert wrapped.wrapped.hex() not in repr(wrapped)
