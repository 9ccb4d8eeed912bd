"""The env provider (VCF_PG_LOADER_PHI_KEY), the shared wrap format, provider
resolution and the weaker-provider warnings."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vcf_pg_loader.config import Settings
from vcf_pg_loader.errors import KeyError_
from vcf_pg_loader.keys.aws_kms import AwsKmsProvider
from vcf_pg_loader.keys.env import EnvKey, decode_phi_key, derive_kek
from vcf_pg_loader.keys.local import LocalMasterKey, create_master_key
from vcf_pg_loader.keys.provider import WrappedKey, canonical_context
from vcf_pg_loader.keys.providers import (
    ProviderSet,
    describe_provider,
    provider_warnings,
    weaker_reason,
)

CONTEXT = {"purpose": "phi", "database": "vcf", "key_id": "k1"}
KEY32 = base64.b64encode(bytes(range(32))).decode()
KEY64 = base64.b64encode(bytes(range(64))).decode()


@pytest.mark.parametrize("value", [KEY32, KEY64, f"  {KEY32}\n"])
def test_round_trip_with_32_or_64_byte_keys(value: str) -> None:
    provider = EnvKey(value)
    material, wrapped = provider.generate(CONTEXT)
    assert len(material) == 64 and material not in wrapped.wrapped
    assert wrapped.provider == "env"
    assert wrapped.kek_id.startswith("env:") and len(wrapped.kek_id) == 4 + 16
    assert EnvKey(value).unwrap(wrapped) == material


def test_the_kek_is_derived_not_the_key_itself() -> None:
    raw = bytes(range(32))
    kek = derive_kek(raw)
    assert len(kek) == 32 and kek != raw
    assert derive_kek(bytes(range(64))) != kek


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64 at all!!", "not valid base64"),
        ("c2VjcmV0LXZhbHVlcw", "not valid base64"),  # padding missing
        ("clé-secrète", "not valid base64"),
        (base64.b64encode(b"s3cr3t-sixteen-b").decode(), "decodes to 16 bytes, not 32 or 64"),
        (base64.b64encode(b"x" * 48).decode(), "decodes to 48 bytes"),
        ("", "decodes to 0 bytes"),
    ],
)
def test_bad_keys_are_refused_without_echoing_them(value: str, message: str) -> None:
    with pytest.raises(KeyError_, match=message) as err:
        decode_phi_key(value)
    text = f"{err.value} {err.value.hint}"
    assert "VCF_PG_LOADER_PHI_KEY" in text
    if value:
        assert value not in text
    assert "s3cr3t" not in text and "secret" not in text.lower()


def test_another_env_key_or_context_does_not_unwrap() -> None:
    _, wrapped = EnvKey(KEY32).generate(CONTEXT)
    with pytest.raises(KeyError_, match="wrapped by VCF_PG_LOADER_PHI_KEY key") as err:
        EnvKey(KEY64).unwrap(wrapped)
    assert err.value.hint and "VCF_PG_LOADER_PHI_KEY" in err.value.hint
    moved = WrappedKey("env", wrapped.kek_id, wrapped.wrapped, {**CONTEXT, "key_id": "k2"})
    with pytest.raises(KeyError_, match="does not unwrap"):
        EnvKey(KEY32).unwrap(moved)
    with pytest.raises(KeyError_, match="not 'env'"):
        EnvKey(KEY32).unwrap(WrappedKey("local", wrapped.kek_id, wrapped.wrapped, CONTEXT))
    with pytest.raises(KeyError_, match="malformed"):
        EnvKey(KEY32).unwrap(WrappedKey("env", wrapped.kek_id, wrapped.wrapped[:-1], CONTEXT))


def test_repr_hides_the_key() -> None:
    provider = EnvKey(KEY32)
    text = repr(provider)
    assert KEY32 not in text and bytes(range(32)).hex() not in text
    assert derive_kek(bytes(range(32))).hex() not in text and "redacted" in text


def test_wrapped_format_is_stable(tmp_path: Path) -> None:
    """0x01 || 12-byte nonce || AES-GCM(ct || tag), AAD = canonical context: the
    server-side unwrap reads the same bytes, so this is a format test."""
    path = tmp_path / "master.key"
    create_master_key(path)
    master = path.read_bytes()
    provider = LocalMasterKey(path)
    material, wrapped = provider.generate(CONTEXT)
    blob = wrapped.wrapped
    assert blob[0] == 1 and len(blob) == 1 + 12 + 64 + 16
    assert AESGCM(master).decrypt(blob[1:13], blob[13:], canonical_context(CONTEXT)) == material
    nonce = os.urandom(12)
    made_elsewhere = (
        b"\x01"
        + nonce
        + AESGCM(master).encrypt(
            nonce, material, b'{"database":"vcf","key_id":"k1","purpose":"phi"}'
        )
    )
    assert (
        provider.unwrap(WrappedKey("local", provider.kek_id, made_elsewhere, CONTEXT)) == material
    )


def test_provider_set_dispatches_on_the_recorded_provider(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_key(path)
    local = ProviderSet(Settings(home=tmp_path))
    assert local.name == "local"
    m_local, w_local = local.generate(CONTEXT)
    env = ProviderSet(Settings(home=tmp_path, key_provider="env", phi_key=KEY32))
    m_env, w_env = env.generate(CONTEXT)
    assert w_env.provider == "env" and env.kek_id == w_env.kek_id
    # One set unwraps both, each with its own provider.
    both = ProviderSet(Settings(home=tmp_path, key_provider="env", phi_key=KEY32))
    assert both.unwrap(w_local) == m_local and both.unwrap(w_env) == m_env
    assert isinstance(both.kms(), AwsKmsProvider)


def test_provider_set_says_what_is_missing(tmp_path: Path) -> None:
    nothing = ProviderSet(Settings(home=tmp_path))
    _, w_env = EnvKey(KEY32).generate(CONTEXT)
    with pytest.raises(KeyError_, match="VCF_PG_LOADER_PHI_KEY is not set"):
        nothing.unwrap(w_env)
    path = tmp_path / "m.key"
    create_master_key(path)
    _, w_local = LocalMasterKey(path).generate(CONTEXT)
    with pytest.raises(KeyError_, match="does not exist"):
        nothing.unwrap(w_local)
    with pytest.raises(KeyError_, match="unknown key provider"):
        nothing.unwrap(WrappedKey("vault", "v", b"x", CONTEXT))
    with pytest.raises(KeyError_, match="no KMS key is configured"):
        ProviderSet(Settings(home=tmp_path, key_provider="aws-kms")).generate(CONTEXT)
    assert "PHI" not in repr(ProviderSet(Settings(home=tmp_path, phi_key=KEY32)))
    assert KEY32 not in repr(ProviderSet(Settings(home=tmp_path, phi_key=KEY32)))


def test_env_is_marked_weaker(tmp_path: Path) -> None:
    assert weaker_reason("env") == "plaintext key in the environment"
    assert weaker_reason("local") is None and weaker_reason("aws-kms") is None
    assert describe_provider("env") == "env (weaker: plaintext key in the environment)"
    assert describe_provider("aws-kms") == "aws-kms"
    [warning] = provider_warnings(Settings(home=tmp_path, key_provider="env", phi_key=KEY32))
    assert "weaker" in warning and KEY32 not in warning
    assert provider_warnings(Settings(home=tmp_path, key_provider="aws-kms", kms_key_id="k")) == []
    [leftover] = provider_warnings(
        Settings(home=tmp_path, key_provider="aws-kms", kms_key_id="k", phi_key=KEY32)
    )
    assert "VCF_PG_LOADER_PHI_KEY is set" in leftover
