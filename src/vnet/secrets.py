"""Secret material (MACsec and WireGuard keys): reading key files, checking them, and
fingerprints.

A key is held in a `SecretStr` (vnet.declare's) from the moment it is read, so its repr,
`str`, model dumps and JSON show `**********`; only the door calls `get_secret_value()`, to
put the key into the netlink message. No error message here ever quotes the key's text.

Fingerprints: the kernel never reports a key back, so a changed key could not be seen in a
plan. The door therefore keeps, beside the kernel in /run/vnet (a tmpfs that lives exactly
as long as the kernel state), a salted HMAC-SHA256 of each key it installed; the kind compares
the file's key against it. A fingerprint reveals nothing usable about the key (a random salt
per SA, and keys are 128 or 256 random bits).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from typing import TYPE_CHECKING

from .declare import SecretStr

if TYPE_CHECKING:  # keys are read from Path objects the kinds give; loading needs no pathlib
    from pathlib import Path

_HEX = re.compile(r"^[0-9a-f]*$")
_SEPARATORS = re.compile(r"[\s:]")


#: field names whose values are keys (macsec's `key`, wireguard's `private_key` and
#: `preshared_key`, marked writeOnly in the schema): an error that quotes what the file said
#: shows them as `(hidden)`
SECRET_FIELDS = frozenset({"key", "private_key", "preshared_key"})


def hidden(value: object, field: object = None) -> object:
    """`value` as an error may quote it: a secret field's value (or one under such a key in
    a mapping, at any depth) replaced by "(hidden)"."""
    if field in SECRET_FIELDS:
        return "(hidden)"
    if isinstance(value, dict):
        return {k: hidden(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hidden(v) for v in value]
    return value


def clean_hex(value: object, what: str) -> str:
    """Hex digits, lower case, spaces and ':' removed; ValueError that never quotes `value`."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a quoted string of hex digits (YAML read it as a "
                         f"{type(value).__name__})")
    text = _SEPARATORS.sub("", value).lower()
    if text.startswith("0x"):
        text = text[2:]
    if not text:
        raise ValueError(f"{what} is empty")
    if not _HEX.match(text):
        raise ValueError(f"{what} must be hex digits only (0-9, a-f)")
    if len(text) % 2:
        raise ValueError(f"{what} has an odd number of hex digits ({len(text)}); write whole "
                         "bytes, two digits each")
    return text


def read_key_file(path: Path) -> SecretStr:
    """A key from a file of hex digits; the file must be a regular file that only its owner
    can read or write (like ssh keys). ValueError says what to fix, never the content."""
    return SecretStr(clean_hex(_read_private_text(path), f"the content of key file {path}"))


def clean_base64_key(value: object, what: str, size: int = 32) -> str:
    """A key in base64 (as `wg genkey` prints it), checked to be `size` bytes and written
    back in canonical form; ValueError that never quotes `value`."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a quoted base64 string (YAML read it as a "
                         f"{type(value).__name__})")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64 (write it as `wg genkey` prints it: 44 "
                         "characters ending in '=')") from None
    if len(raw) != size:
        raise ValueError(f"{what} is {len(raw)} bytes; a WireGuard key is {size} bytes "
                         "(44 base64 characters)")
    return base64.b64encode(raw).decode()


def read_base64_key_file(path: Path) -> SecretStr:
    """A WireGuard key from a file holding it in base64 (`wg genkey > FILE`), with the
    same rules for the file as `read_key_file`."""
    return SecretStr(clean_base64_key(_read_private_text(path),
                                      f"the content of key file {path}"))


def _read_private_text(path: Path) -> str:
    """The text of a key file that only its owner can read or write."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"cannot read key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"key file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise ValueError(f"key file {path} can be read or written by group or others (mode "
                         f"{stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        raise ValueError(f"cannot read key file {path} as text") from None
    return text


def fingerprint(key: SecretStr, salt: bytes | None = None) -> str:
    """`salt:hmac` of a key: a fresh random salt each time unless given (to compare)."""
    salt = os.urandom(16) if salt is None else salt
    import hashlib  # (and hmac) only where a key is fingerprinted: loading has no use for them
    import hmac
    mac = hmac.new(salt, bytes.fromhex(key.get_secret_value()), hashlib.sha256).hexdigest()
    return f"{salt.hex()}:{mac}"


def matches(key: SecretStr, stored: str | None) -> bool:
    """Is `stored` (a fingerprint) the fingerprint of `key`? False when nothing is stored."""
    if not stored or ":" not in stored:
        return False
    salt, _ = stored.split(":", 1)
    try:
        expected = fingerprint(key, bytes.fromhex(salt))
    except ValueError:
        return False
    import hmac
    return hmac.compare_digest(expected, stored)
