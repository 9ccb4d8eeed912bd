"""Key providers (wrap and unwrap data keys) and the key registry in vcf.data_keys."""

from .provider import KeyProvider, WrappedKey

__all__ = ["KeyProvider", "WrappedKey"]
