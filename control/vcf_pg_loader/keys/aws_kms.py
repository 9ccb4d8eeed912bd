"""The `aws-kms` provider: data keys from KMS GenerateDataKey, bound to their context.

Region, endpoint and credentials come from the usual AWS settings: boto3's
own (AWS_DEFAULT_REGION, AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_KMS, profiles,
instance roles), plus AWS_REGION, which the other AWS SDKs read first and
boto3 does not; retries are botocore's standard mode. The stored kek_id is the key ARN KMS reports,
so unwrapping needs no configured key id. Errors name the operation and the
KMS error code, never key material, ciphertext or KMS's own message.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from ..crypto import KEY_BYTES
from ..errors import KeyError_
from .provider import WrappedKey

_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=30)

_CLIENT_ERRORS: dict[str, tuple[str, str]] = {
    "InvalidCiphertextException": (
        "the wrapped key or its encryption context does not match (tampered or moved)",
        "The key row was changed; restore vcf.data_keys from a backup.",
    ),
    "IncorrectKeyException": (
        "the wrapped key belongs to another KMS key than its recorded kek_id",
        "The key row was changed; restore vcf.data_keys from a backup.",
    ),
    "AccessDeniedException": (
        "access denied by KMS",
        "Allow kms:GenerateDataKey, kms:Decrypt, kms:Encrypt, kms:ReEncrypt* and "
        "kms:DescribeKey on the key to this identity.",
    ),
    "NotFoundException": (
        "KMS key not found",
        "Check the key id or alias (VCF_PG_LOADER_KMS_KEY_ID) and AWS_REGION.",
    ),
    "DisabledException": ("KMS key is disabled", "Enable the key in KMS."),
    "KMSInvalidStateException": (
        "KMS key is not usable in its current state (pending deletion or import?)",
        "Check the key's state in KMS; cancel a scheduled deletion if needed.",
    ),
    "KeyUnavailableException": ("KMS key is unavailable", "Try again later."),
    "DependencyTimeoutException": ("KMS timed out", "Try again later."),
    "KMSInternalException": ("KMS had an internal error", "Try again later."),
    "UnrecognizedClientException": (
        "KMS does not recognize these AWS credentials",
        "Check AWS_PROFILE / AWS_ACCESS_KEY_ID and the region.",
    ),
}


def kms_error(operation: str, exc: Exception, key: str | None) -> KeyError_:
    """A one-line KeyError_ for a botocore failure (never quoting its message)."""
    where = f" (key {key})" if key else ""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        what, hint = _CLIENT_ERRORS.get(code, (f"KMS refused the request ({code})", ""))
        return KeyError_(f"KMS {operation}{where}: {what}", hint=hint or None)
    if isinstance(exc, NoRegionError):
        return KeyError_(
            f"KMS {operation}: no AWS region is configured",
            hint="Set AWS_REGION (or a region in your AWS profile).",
        )
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return KeyError_(
            f"KMS {operation}: no AWS credentials found",
            hint="Use an instance role, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.",
        )
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return KeyError_(
            f"KMS {operation}: cannot reach the KMS endpoint",
            hint="Check the network, AWS_REGION and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_KMS.",
        )
    return KeyError_(f"KMS {operation}{where} failed: {type(exc).__name__}")


class AwsKmsProvider:
    """Key provider backed by an AWS KMS key (alias or ARN).

    key_id may be None for a provider that only unwraps and rewraps: those
    use the ARN stored with each key. The boto3 client is made on first use.
    """

    name = "aws-kms"

    def __init__(self, key_id: str | None, client: Any = None) -> None:
        self._key_id = key_id
        self._client = client

    def __repr__(self) -> str:
        return f"AwsKmsProvider(key_id={self._key_id!r})"

    @property
    def kek_id(self) -> str:
        """The configured key id (alias or ARN); stored keys record the ARN."""
        if self._key_id is None:
            raise KeyError_(
                "no KMS key is configured",
                hint="Set VCF_PG_LOADER_KMS_KEY_ID or pass --kms-key-id.",
            )
        return self._key_id

    def _call(self, operation: str, key: str | None, **params: Any) -> dict[str, Any]:
        try:
            if self._client is None:
                region = os.environ.get("AWS_REGION") or None
                # a session of its own: the settings as they are now, no cached credentials
                session = boto3.session.Session()
                self._client = session.client("kms", region_name=region, config=_CONFIG)
            method = getattr(self._client, operation)
            response: dict[str, Any] = method(**params)
        except (BotoCoreError, ClientError) as exc:
            raise kms_error(operation, exc, key) from None
        return response

    def describe_arn(self, key_id: str) -> str:
        """The ARN of a key named by id, ARN or alias (DescribeKey)."""
        meta = self._call("describe_key", key_id, KeyId=key_id)["KeyMetadata"]
        return str(meta["Arn"])

    def generate(self, context: dict[str, str]) -> tuple[bytes, WrappedKey]:
        response = self._call(
            "generate_data_key",
            self.kek_id,
            KeyId=self.kek_id,
            NumberOfBytes=KEY_BYTES,
            EncryptionContext=context,
        )
        material = _material(response)
        return material, WrappedKey(
            self.name, str(response["KeyId"]), bytes(response["CiphertextBlob"]), dict(context)
        )

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        if wrapped.provider != self.name:
            raise KeyError_(f"key was wrapped by provider {wrapped.provider!r}, not 'aws-kms'")
        response = self._call(
            "decrypt",
            wrapped.kek_id,
            CiphertextBlob=wrapped.wrapped,
            EncryptionContext=wrapped.context,
            KeyId=wrapped.kek_id,
        )
        return _material(response)

    def wrap(
        self, material: bytes, context: dict[str, str], key_id: str | None = None
    ) -> WrappedKey:
        """Wrap an existing data key under a KMS key (Encrypt), bound to its context."""
        target = key_id or self.kek_id
        response = self._call(
            "encrypt", target, KeyId=target, Plaintext=material, EncryptionContext=context
        )
        return WrappedKey(
            self.name, str(response["KeyId"]), bytes(response["CiphertextBlob"]), dict(context)
        )

    def reencrypt(self, wrapped: WrappedKey, destination_key_id: str | None = None) -> WrappedKey:
        """ReEncrypt under destination_key_id, or under the same KMS key (its newest material).

        The plaintext never leaves KMS; the encryption context stays the same.
        """
        if wrapped.provider != self.name:
            raise KeyError_(f"key was wrapped by provider {wrapped.provider!r}, not 'aws-kms'")
        destination = destination_key_id or wrapped.kek_id
        response = self._call(
            "re_encrypt",
            destination,
            CiphertextBlob=wrapped.wrapped,
            SourceEncryptionContext=wrapped.context,
            SourceKeyId=wrapped.kek_id,
            DestinationKeyId=destination,
            DestinationEncryptionContext=wrapped.context,
        )
        return WrappedKey(
            self.name, str(response["KeyId"]), bytes(response["CiphertextBlob"]), wrapped.context
        )


def _material(response: dict[str, Any]) -> bytes:
    """Take the plaintext out of a KMS response (so the response no longer holds it)."""
    material = bytes(response.pop("Plaintext", b""))
    if len(material) != KEY_BYTES:
        raise KeyError_(f"KMS returned a {len(material)}-byte key, not {KEY_BYTES}")
    return material
