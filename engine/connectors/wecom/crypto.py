"""WeCom's callback crypto (DESIGN §20), with the semantics of WeCom's published WXBizMsgCrypt.

A callback carries `Encrypt` (base64 of AES-256-CBC ciphertext) and `msg_signature`
= sha1 of the sorted, concatenated (token, timestamp, nonce, Encrypt). The AES key is
base64decode(EncodingAESKey + "="), the IV its first 16 bytes, the padding PKCS#7 to 32-byte blocks,
and the plaintext `16 random bytes + 4-byte big-endian length + message + receive id` (the corp id).

:class:`CallbackCrypto` both opens callbacks (the `/wecom/callback` route) and seals them (a fake WeCom
in tests and the demo sends callbacks with :meth:`CallbackCrypto.encrypt`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

from ...errors import UserError
from .options import WecomOptions

BLOCK = 32  # WeCom pads to 32-byte blocks, not AES's 16
_RANDOM = 16
_LENGTH = struct.Struct(">I")


class CallbackRejected(UserError):
    """The callback is not one WeCom sent for this corp."""


class BadSignature(CallbackRejected):
    """The callback's signature does not match: it was not signed with this app's token."""


class BadReceiveId(CallbackRejected):
    """The callback was encrypted for another corp (its receive id is not this corp id)."""


class MalformedCallback(CallbackRejected):
    """The callback's body cannot be read."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """WeCom's `msg_signature`: sha1 hex of the four strings sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key that a 43-character EncodingAESKey stands for."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("the EncodingAESKey is not base64") from error
    if len(key) != 32:
        raise ValueError("the EncodingAESKey must be 43 characters that decode to 32 bytes")
    return key


class CallbackCrypto:
    """Verifies and decrypts callbacks for one app (token, EncodingAESKey, corp id), and encrypts and
    signs them the way WeCom does."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self.receive_id = receive_id
        self._key = aes_key(encoding_aes_key)

    @classmethod
    def for_options(cls, options: WecomOptions) -> CallbackCrypto:
        """The crypto of the app that `options` describe (its token, EncodingAESKey and corp id)."""
        return cls(options.token, options.encoding_aes_key, options.corp_id)

    # ----- opening (what the callback route does)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The plaintext of WeCom's URL-verification `echostr`, once its signature and receive id
        check. `echostr` must be the query value as decoded once (a `+` in it stays a `+`)."""
        self._check(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_callback(self, body: bytes | str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """The message XML inside a POSTed callback body `<xml><Encrypt>…</Encrypt>…</xml>`, once its
        signature and receive id check. Raises :class:`CallbackRejected` otherwise."""
        encrypted = envelope_encrypt(body)
        self._check(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def _check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, (msg_signature or "").lower()):
            raise BadSignature()

    def decrypt(self, encrypted: str) -> str:
        """The message inside one `Encrypt` value (no signature check), once the receive id checks."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as error:
            raise MalformedCallback("the callback's Encrypt is not base64") from error
        if not data or len(data) % 16:
            raise MalformedCallback("the callback's Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
            raise MalformedCallback("the callback's padding is wrong")
        plain = padded[:-pad]
        if len(plain) < _RANDOM + _LENGTH.size:
            raise MalformedCallback("the callback's plaintext is too short")
        (length,) = _LENGTH.unpack_from(plain, _RANDOM)
        start = _RANDOM + _LENGTH.size
        if start + length > len(plain):
            raise MalformedCallback("the callback's length field is wrong")
        message = plain[start : start + length]
        if not hmac.compare_digest(plain[start + length :], self.receive_id.encode()):
            raise BadReceiveId()
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedCallback("the callback's message is not UTF-8") from error

    # ----- sealing (what WeCom does; a fake WeCom uses it)

    def encrypt(self, xml: str, nonce: str, timestamp: str) -> str:
        """The body WeCom would POST for the message `xml`: an `<xml>` envelope with `Encrypt`,
        `MsgSignature`, `TimeStamp` and `Nonce`. Send it with the query
        `msg_signature=<MsgSignature>&timestamp=<timestamp>&nonce=<nonce>`."""
        encrypted = self.seal(xml)
        signed = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><ToUserName><![CDATA[{escape(self.receive_id)}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signed}]]></MsgSignature>"
            f"<TimeStamp>{escape(timestamp)}</TimeStamp>"
            f"<Nonce><![CDATA[{escape(nonce)}]]></Nonce></xml>"
        )

    def seal(self, message: str, random16: bytes | None = None) -> str:
        """One `Encrypt` value (base64) for `message`: the encryption alone, no signature."""
        raw = message.encode("utf-8")
        plain = (random16 or os.urandom(_RANDOM)) + _LENGTH.pack(len(raw)) + raw + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """The `msg_signature` for an `Encrypt` value (e.g. a URL-verification `echostr`)."""
        return signature(self.token, timestamp, nonce, encrypted)

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))


def envelope_encrypt(body: bytes | str) -> str:
    """The `Encrypt` value of a callback envelope; :class:`MalformedCallback` if there is none."""
    try:
        root = ElementTree.fromstring(body)
    except Exception as error:  # defusedxml raises its own errors for entities as well as ParseError
        raise MalformedCallback("the callback body is not XML") from error
    encrypted = root.findtext("Encrypt")
    if not encrypted:
        raise MalformedCallback("the callback body has no Encrypt")
    return encrypted.strip()
