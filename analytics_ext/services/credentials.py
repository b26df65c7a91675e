"""Encryption of datasource secrets at rest (AES-256-GCM), with a key separate from the JWT key.

The key comes from ``AnalyticsExtension.datasource_key`` or is generated once into
``secrets_dir/datasource-key`` (0600). Each ciphertext is bound to its datasource id as
associated data: copying one row's secret onto another row makes it undecryptable rather than
handing the other datasource's credentials to whoever controls that row.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_BYTES: Final = 32
DATASOURCE_KEY_FILE: Final = "datasource-key"
_VERSION: Final = "v1"
_NONCE_BYTES: Final = 12
_KDF_INFO: Final = b"analytics_ext datasource credentials v1"


class CredentialError(RuntimeError):
    """A stored secret cannot be decrypted: the key changed, or the row was tampered with."""


class CredentialCipher:
    """Encrypts a small JSON document of secrets for one datasource."""

    def __init__(self, key_material: bytes) -> None:
        if len(key_material) < MIN_KEY_BYTES:
            raise ValueError(f"the datasource key must be at least {MIN_KEY_BYTES} bytes long")
        # HKDF turns any long-enough secret (a generated token, a configured passphrase) into a
        # uniformly random 256-bit AES key dedicated to this one purpose.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO).derive(
            key_material
        )
        self._aead = AESGCM(key)

    def encrypt(self, secrets: dict[str, Any], datasource_id: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(secrets, separators=(",", ":")).encode()
        sealed = self._aead.encrypt(nonce, plaintext, datasource_id.encode())
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, datasource_id: str) -> dict[str, Any]:
        version, _, body = token.partition(":")
        if version != _VERSION:
            raise CredentialError("unknown credential format")
        try:
            raw = base64.urlsafe_b64decode(body)
            plaintext = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], datasource_id.encode()
            )
        except (InvalidTag, ValueError) as error:
            raise CredentialError(
                "stored datasource credentials cannot be decrypted (was "
                "AnalyticsExtension.datasource_key changed?)"
            ) from error
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise CredentialError("unknown credential format")
        return value
