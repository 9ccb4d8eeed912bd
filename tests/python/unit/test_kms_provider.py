"""The aws-kms provider against moto: 64-byte keys bound to their encryption context,
ReEncrypt, aliases, and clean one-line errors for every way KMS can fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from vcf_pg_loader.errors import KeyError_
from vcf_pg_loader.keys.aws_kms import AwsKmsProvider
from vcf_pg_loader.keys.provider import WrappedKey

CONTEXT = {"purpose": "phi", "database": "vcf", "key_id": "0b6f7ad2-0000-4000-8000-000000000001"}


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("kms", region_name="eu-west-1")


def _key(kms: Any, alias: str | None = None) -> str:
    arn = str(kms.create_key(Description="test")["KeyMetadata"]["Arn"])
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def test_generate_and_unwrap_round_trip(kms: Any) -> None:
    arn = _key(kms)
    provider = AwsKmsProvider(arn)
    material, wrapped = provider.generate(CONTEXT)
    assert len(material) == 64
    assert (wrapped.provider, wrapped.kek_id, wrapped.context) == ("aws-kms", arn, CONTEXT)
    assert material not in wrapped.wrapped
    assert provider.unwrap(wrapped) == material
    # Unwrapping needs no configured key: the ARN is stored with the key.
    assert AwsKmsProvider(None).unwrap(wrapped) == material
    # The encryption context really went to KMS: KMS itself refuses another one.
    direct = kms.decrypt(CiphertextBlob=wrapped.wrapped, EncryptionContext=CONTEXT)
    assert direct["Plaintext"] == material
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=wrapped.wrapped)


@pytest.mark.parametrize(
    "change",
    [{"purpose": "staging"}, {"key_id": "another"}, {"session_id": "s"}],
)
def test_other_context_does_not_unwrap(kms: Any, change: dict[str, str]) -> None:
    provider = AwsKmsProvider(_key(kms))
    _, wrapped = provider.generate(CONTEXT)
    moved = WrappedKey(wrapped.provider, wrapped.kek_id, wrapped.wrapped, {**CONTEXT, **change})
    with pytest.raises(KeyError_, match="encryption context does not match") as err:
        provider.unwrap(moved)
    assert err.value.hint and "\n" not in err.value.message


def test_tampered_blob_does_not_unwrap(kms: Any) -> None:
    provider = AwsKmsProvider(_key(kms))
    _, wrapped = provider.generate(CONTEXT)
    blob = bytearray(wrapped.wrapped)
    blob[-1] ^= 1
    with pytest.raises(KeyError_, match="KMS decrypt") as err:
        provider.unwrap(WrappedKey("aws-kms", wrapped.kek_id, bytes(blob), CONTEXT))
    assert wrapped.wrapped.hex() not in str(err.value)


def test_kek_id_naming_another_key_is_refused(kms: Any) -> None:
    provider = AwsKmsProvider(_key(kms))
    other = _key(kms)
    _, wrapped = provider.generate(CONTEXT)
    with pytest.raises(KeyError_, match="KMS decrypt"):
        provider.unwrap(WrappedKey("aws-kms", other, wrapped.wrapped, CONTEXT))


def test_reencrypt_to_a_second_key(kms: Any) -> None:
    first, second = _key(kms), _key(kms)
    provider = AwsKmsProvider(first)
    material, wrapped = provider.generate(CONTEXT)
    moved = provider.reencrypt(wrapped, second)
    assert moved.kek_id == second and moved.context == CONTEXT
    assert moved.wrapped != wrapped.wrapped
    assert AwsKmsProvider(None).unwrap(moved) == material
    # Under the destination key only.
    with pytest.raises(KeyError_):
        provider.unwrap(WrappedKey("aws-kms", first, moved.wrapped, CONTEXT))
    # Without a destination it stays under its own KMS key.
    again = provider.reencrypt(moved)
    assert again.kek_id == second and provider.unwrap(again) == material


def test_reencrypt_keeps_the_context_bound(kms: Any) -> None:
    first, second = _key(kms), _key(kms)
    provider = AwsKmsProvider(first)
    _, wrapped = provider.generate(CONTEXT)
    wrong = WrappedKey("aws-kms", first, wrapped.wrapped, {**CONTEXT, "purpose": "staging"})
    with pytest.raises(KeyError_, match="KMS re_encrypt"):
        provider.reencrypt(wrong, second)


def test_wrap_existing_material(kms: Any) -> None:
    arn = _key(kms)
    provider = AwsKmsProvider(None)
    material = bytes(range(64))
    wrapped = provider.wrap(material, CONTEXT, arn)
    assert wrapped.kek_id == arn and provider.unwrap(wrapped) == material


def test_alias_names_work_and_the_arn_is_stored(kms: Any) -> None:
    arn = _key(kms, alias="alias/vcf-phi")
    provider = AwsKmsProvider("alias/vcf-phi")
    material, wrapped = provider.generate(CONTEXT)
    assert wrapped.kek_id == arn
    assert provider.describe_arn("alias/vcf-phi") == arn
    assert AwsKmsProvider(None).unwrap(wrapped) == material


def test_unknown_key_is_a_clean_error(kms: Any) -> None:
    with pytest.raises(KeyError_) as err:
        AwsKmsProvider("alias/no-such-key").generate(CONTEXT)
    assert str(err.value) == "KMS generate_data_key (key alias/no-such-key): KMS key not found"
    assert err.value.hint and "KMS_KEY_ID" in err.value.hint
    with pytest.raises(KeyError_, match="not found"):
        AwsKmsProvider(None).describe_arn("alias/no-such-key")


def test_no_configured_key_cannot_generate(kms: Any) -> None:
    with pytest.raises(KeyError_, match="no KMS key is configured"):
        AwsKmsProvider(None).generate(CONTEXT)


def test_wrong_provider_is_refused(kms: Any) -> None:
    with pytest.raises(KeyError_, match="not 'aws-kms'"):
        AwsKmsProvider(None).unwrap(WrappedKey("local", "local:00", b"x" * 93, CONTEXT))


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("DisabledException", "KMS key is disabled"),
        ("AccessDeniedException", "access denied by KMS"),
        ("KMSInvalidStateException", "not usable in its current state"),
        ("ThrottlingException", "KMS refused the request (ThrottlingException)"),
    ],
)
def test_kms_refusals_are_clean_errors(code: str, message: str) -> None:
    client = boto3.client(
        "kms", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    secret = "arn:aws:kms:eu-west-1:1:key/secret-detail-from-aws"
    with Stubber(client) as stub:
        stub.add_client_error("generate_data_key", service_error_code=code, service_message=secret)
        with pytest.raises(KeyError_) as err:
            AwsKmsProvider("alias/k", client=client).generate(CONTEXT)
    assert message in str(err.value)
    assert "secret-detail" not in str(err.value) and "\n" not in str(err.value)


def test_short_key_from_kms_is_refused() -> None:
    client = boto3.client(
        "kms", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "generate_data_key",
            {"CiphertextBlob": b"c" * 100, "Plaintext": b"p" * 32, "KeyId": "arn:k"},
        )
        with pytest.raises(KeyError_, match="32-byte key, not 64"):
            AwsKmsProvider("alias/k", client=client).generate(CONTEXT)


def test_no_region_is_a_clean_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(KeyError_, match="no AWS region is configured") as err:
        AwsKmsProvider("alias/k").generate(CONTEXT)
    assert err.value.hint and "AWS_REGION" in err.value.hint


def test_no_credentials_is_a_clean_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(KeyError_, match="no AWS credentials found"):
        AwsKmsProvider("alias/k").generate(CONTEXT)


def test_unreachable_endpoint_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(KeyError_, match="cannot reach the KMS endpoint") as err:
        AwsKmsProvider("alias/k").generate(CONTEXT)
    assert err.value.hint and "AWS_ENDPOINT_URL" in err.value.hint


def test_repr_has_no_secret(kms: Any) -> None:
    provider = AwsKmsProvider(_key(kms))
    material, wrapped = provider.generate(CONTEXT)
    for text in (repr(provider), repr(wrapped)):
        assert material.hex() not in text and wrapped.wrapped.hex() not in text
        assert repr(material)[2:20] not in text
