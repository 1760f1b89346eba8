"""Field encryption of personal data: AES-256-GCM with key ids, so keys can rotate.

A stored value reads `ae1:<key id>:<base64(nonce | ciphertext | tag)>`; the key id is also the
associated data, so a value cannot be moved under another key. Lookup fields (phone numbers,
channel addresses) take their nonce from a keyed hash (HMAC-SHA256) of the plain text: equal
numbers encrypt equally under one key, so equality lookups and unique constraints still work and
reveal no more than a keyed hash would. Values without the prefix are legacy plain text from before
encryption; `ansim keys rotate` rewrites them (and everything under an old key) with the current key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "ae1:"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
# A fixed, public key for test suites and `ansim demo` only; the app refuses it outside demo mode.
DEMO_KEY_TEXT = "demo:" + base64.b64encode(b"ansim-demo-key-not-for-real-use!").decode()


class DataKeyError(ValueError):
    """A key is missing, malformed, or a value does not decrypt."""


@dataclass(frozen=True)
class Keyring:
    """Data keys by id; the first encrypts, all decrypt."""

    keys: dict[str, bytes]
    current: str

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Reads `id:base64,id:base64` (first is current) or one bare base64 key (id `k1`)."""
        keys: dict[str, bytes] = {}
        current = ""
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key_id, _, encoded = part.rpartition(":")
            key_id = key_id or "k1"
            if not _KEY_ID.match(key_id):
                raise DataKeyError(f"key id {key_id!r}: use 1-16 letters, digits, - or _")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error as error:
                raise DataKeyError(f"key {key_id} is not base64") from error
            if len(key) != 32:
                raise DataKeyError(f"key {key_id} must be 32 bytes (AES-256), not {len(key)}")
            if len(set(key)) < 8:
                # All zeros (or one byte repeated) is a placeholder, not a key.
                raise DataKeyError(f"key {key_id} is not random: make one with `ansim keys new`")
            keys[key_id] = key
            current = current or key_id
        if not keys:
            raise DataKeyError("no data key configured (ANSIM_DATA_KEY or ANSIM_DATA_KEY_FILE)")
        return cls(keys=keys, current=current)

    @classmethod
    def load(cls, *, text: str, file: Path | None) -> Keyring:
        return cls.parse(file.read_text().strip() if file is not None else text)

    def encrypt(self, plain: str, *, lookup: bool = False, key_id: str | None = None) -> str:
        key_id = key_id or self.current
        key = self.keys[key_id]
        nonce = _lookup_nonce(key, plain) if lookup else os.urandom(12)
        sealed = _cipher(key).encrypt(nonce, plain.encode(), key_id.encode())
        return f"{PREFIX}{key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        key_id, _, encoded = stored[len(PREFIX) :].partition(":")
        key = self.keys.get(key_id)
        if key is None:
            raise DataKeyError(f"value encrypted under unknown key {key_id}")
        raw = base64.b64decode(encoded)
        try:
            return _cipher(key).decrypt(raw[:12], raw[12:], key_id.encode()).decode()
        except InvalidTag as error:
            raise DataKeyError(f"value under key {key_id} fails authentication") from error

    def lookup_forms(self, plain: str) -> list[str]:
        """The stored forms `plain` may have as a lookup field: one per key, then legacy plain text."""
        ordered = [self.current, *(k for k in self.keys if k != self.current)]
        return [*(self.encrypt(plain, lookup=True, key_id=k) for k in ordered), plain]

    def key_of(self, stored: str) -> str | None:
        """The key id a stored value is under, or None for legacy plain text."""
        if not stored.startswith(PREFIX):
            return None
        return stored[len(PREFIX) :].partition(":")[0]


@functools.lru_cache(maxsize=16)
def _cipher(key: bytes) -> AESGCM:
    # Setting up the key schedule cost a third of each field's encryption; the object is reusable.
    return AESGCM(key)


@functools.lru_cache(maxsize=16)
def _lookup_key(key: bytes) -> bytes:
    return hmac.new(key, b"ansim lookup nonce v1", hashlib.sha256).digest()


def _lookup_nonce(key: bytes, plain: str) -> bytes:
    return hmac.new(_lookup_key(key), plain.encode(), hashlib.sha256).digest()[:12]


def new_key_text(key_id: str) -> str:
    """A fresh random key in the configuration form `id:base64`."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


_installed: Keyring | None = None


def install(keyring: Keyring) -> None:
    """Makes `keyring` the one the encrypted column types use in this process."""
    global _installed
    _installed = keyring


def installed() -> Keyring:
    if _installed is None:
        raise DataKeyError(
            "personal data is encrypted: configure a data key before using the store"
        )
    return _installed
