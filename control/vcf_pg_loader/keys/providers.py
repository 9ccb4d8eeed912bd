"""Provider resolution: generate with the configured provider, unwrap with the recorded one.

A database may hold keys wrapped by `local` earlier and `aws-kms` later, so
unwrapping dispatches on each key's provider; providers are built on first
use, so a missing master key file or VCF_PG_LOADER_PHI_KEY only matters when
a key needs it.
"""

from __future__ import annotations

import threading

from ..config import Settings
from ..errors import KeyError_
from .aws_kms import AwsKmsProvider
from .env import PHI_KEY_ENV, EnvKey
from .local import LocalMasterKey
from .provider import KeyProvider, WrappedKey

# Providers whose KEK is weaker than a KMS key or a 0600 master key file, and why.
_WEAKER = {"env": "plaintext key in the environment"}


def weaker_reason(provider: str) -> str | None:
    """Why keys of this provider are weaker, or None."""
    return _WEAKER.get(provider)


def describe_provider(provider: str) -> str:
    """The provider name, with its weakness if any: 'env (weaker: ...)'."""
    reason = weaker_reason(provider)
    return f"{provider} (weaker: {reason})" if reason else provider


def provider_warnings(settings: Settings) -> list[str]:
    """Warnings about the configured key providers (for keys list and doctor)."""
    warnings = []
    reason = weaker_reason(settings.key_provider)
    if reason:
        warnings.append(
            f"key provider {settings.key_provider} is weaker: {reason} ({PHI_KEY_ENV});"
            " move to aws-kms with 'vcfctl keys rewrap --to-kms-key-id KEY'"
        )
    elif settings.phi_key:
        warnings.append(
            f"{PHI_KEY_ENV} is set: a plaintext key in the environment;"
            " unset it once no key is wrapped by the env provider"
        )
    return warnings


class ProviderSet:
    """A KeyProvider over all providers: generate with the default, unwrap with the key's own."""

    def __init__(self, settings: Settings, providers: dict[str, KeyProvider] | None = None) -> None:
        """providers: ready-made ones by name (tests, callers with their own client)."""
        self.settings = settings
        self.name = settings.key_provider
        self._built: dict[str, KeyProvider] = dict(providers or {})
        # vcfctl load --jobs unwraps from several threads: build each once
        self._building = threading.Lock()

    def __repr__(self) -> str:
        return f"ProviderSet(default={self.name!r}, built={sorted(self._built)!r})"

    def get(self, name: str) -> KeyProvider:
        """The provider called name, built on first use (KeyError_ if it cannot be)."""
        with self._building:
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    def _build(self, name: str) -> KeyProvider:
        if name == "local":
            return LocalMasterKey(self.settings.master_key_path)
        if name == "env":
            if not self.settings.phi_key:
                raise KeyError_(
                    f"this key is wrapped by the env provider and {PHI_KEY_ENV} is not set",
                    hint=f"Set {PHI_KEY_ENV} to the key it was wrapped with.",
                )
            return EnvKey(self.settings.phi_key)
        if name == "aws-kms":
            return AwsKmsProvider(self.settings.kms_key_id)
        raise KeyError_(f"unknown key provider {name!r}")

    def kms(self) -> AwsKmsProvider:
        """The aws-kms provider (it needs no configured key id to unwrap or rewrap)."""
        provider = self.get("aws-kms")
        assert isinstance(provider, AwsKmsProvider)
        return provider

    @property
    def default(self) -> KeyProvider:
        return self.get(self.name)

    @property
    def kek_id(self) -> str:
        return self.default.kek_id

    def generate(self, context: dict[str, str]) -> tuple[bytes, WrappedKey]:
        return self.default.generate(context)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        return self.get(wrapped.provider).unwrap(wrapped)
