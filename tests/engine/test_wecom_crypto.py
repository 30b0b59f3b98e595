"""WeCom callback crypto against an independent implementation (wechatpy's WXBizMsgCrypt port), both
directions, and the URL-verification `echostr` with a `+` in it."""

from __future__ import annotations

import base64
import os
from urllib.parse import parse_qs, quote, urlencode

import pytest

from qunflow.engine.connectors.wecom.crypto import (
    BadReceiveId,
    BadSignature,
    CallbackCrypto,
    CallbackRejected,
    MalformedCallback,
    aes_key,
    signature,
)

wechatpy_crypto = pytest.importorskip("wechatpy.work.crypto", reason="wechatpy (test extra) is not installed")
wechatpy_work_exceptions = pytest.importorskip("wechatpy.work.exceptions")

TOKEN = "QDG6eK"
CORP = "wx5823bf96d3bd56c7"
KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # the example key of WeCom's documentation
XML = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><CreateTime>1403610513</CreateTime>"
    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
    "<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA]]></ExternalUserID>"
    "<State><![CDATA[渠道-1]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
)


def ours() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, KEY, CORP)


def theirs(corp: str = CORP):
    return wechatpy_crypto.WeChatCrypto(TOKEN, KEY, corp)


def query(envelope: str) -> dict[str, str]:
    from defusedxml import ElementTree

    root = ElementTree.fromstring(envelope)
    return {
        "msg_signature": root.findtext("MsgSignature"),
        "timestamp": root.findtext("TimeStamp"),
        "nonce": root.findtext("Nonce"),
    }


def test_the_key_is_the_documented_decoding() -> None:
    assert aes_key(KEY) == base64.b64decode(KEY + "=")
    with pytest.raises(ValueError):
        aes_key("short")


def test_ours_encrypts_wechatpy_decrypts() -> None:
    envelope = ours().encrypt(XML, nonce="1372623149", timestamp="1409304348")
    q = query(envelope)
    assert theirs().decrypt_message(envelope, q["msg_signature"], q["timestamp"], q["nonce"]) == XML


def test_wechatpy_encrypts_ours_decrypts() -> None:
    envelope = theirs().encrypt_message(XML, nonce="n0nce", timestamp="1409304348")
    q = query(envelope)
    assert ours().decrypt_callback(envelope.encode(), q["msg_signature"], q["timestamp"], q["nonce"]) == XML


@pytest.mark.parametrize("size", [0, 1, 15, 16, 31, 32, 33, 100, 1000])
def test_every_length_round_trips_both_ways(size: int) -> None:
    message = "群" * size
    envelope = ours().encrypt(message, nonce="n", timestamp="1")
    q = query(envelope)
    assert theirs().decrypt_message(envelope, q["msg_signature"], "1", "n") == message
    envelope = theirs().encrypt_message(message, nonce="n", timestamp="1")
    assert ours().decrypt_callback(envelope, query(envelope)["msg_signature"], "1", "n") == message


def test_signature_is_sha1_of_the_sorted_four() -> None:
    import hashlib

    parts = sorted([TOKEN, "1409304348", "xxxxxx", "ENCRYPTED"])
    assert (
        signature(TOKEN, "1409304348", "xxxxxx", "ENCRYPTED")
        == hashlib.sha1("".join(parts).encode()).hexdigest()
    )


def echostr_with_a_plus(crypto: CallbackCrypto, plaintext: str) -> str:
    for _ in range(200):
        echostr = crypto.seal(plaintext, random16=os.urandom(16))
        if "+" in echostr:
            return echostr
    raise AssertionError("no echostr with a + in 200 tries")


def test_url_verification_with_a_plus_in_echostr() -> None:
    crypto = ours()
    echostr = echostr_with_a_plus(crypto, "1616140317555161061")
    sig = crypto.sign("1409659589", "263014780", echostr)
    # wechatpy agrees with the signature and the plaintext
    assert theirs().check_signature(sig, "1409659589", "263014780", echostr) == "1616140317555161061"
    # WeCom url-encodes echostr; decoding the query once must keep the "+" a "+"
    url_query = urlencode(
        {"msg_signature": sig, "timestamp": "1409659589", "nonce": "263014780", "echostr": echostr}
    )
    assert "%2B" in url_query
    decoded = {k: v[0] for k, v in parse_qs(url_query).items()}
    assert crypto.verify_url(
        decoded["msg_signature"], decoded["timestamp"], decoded["nonce"], decoded["echostr"]
    ) == ("1616140317555161061")
    # a "+" turned into a space is a different string: refused, never silently "fixed"
    with pytest.raises(CallbackRejected):
        crypto.verify_url(sig, "1409659589", "263014780", echostr.replace("+", " "))
    assert quote(echostr, safe="") != echostr


def test_wechatpy_echostr_is_verified_by_ours() -> None:
    echostr = theirs().encrypt_message("echo-me", nonce="n", timestamp="2")
    q = query(echostr)
    from defusedxml import ElementTree

    encrypted = ElementTree.fromstring(echostr).findtext("Encrypt")
    assert ours().verify_url(q["msg_signature"], "2", "n", encrypted) == "echo-me"


def test_a_wrong_signature_is_refused() -> None:
    envelope = ours().encrypt(XML, nonce="n", timestamp="1")
    with pytest.raises(BadSignature):
        ours().decrypt_callback(envelope, "0" * 40, "1", "n")
    with pytest.raises(BadSignature):
        ours().decrypt_callback(envelope, query(envelope)["msg_signature"], "2", "n")
    with pytest.raises(BadSignature):
        CallbackCrypto("other-token", KEY, CORP).decrypt_callback(
            envelope, query(envelope)["msg_signature"], "1", "n"
        )


def test_a_wrong_receive_id_is_refused_both_ways() -> None:
    envelope = theirs(corp="ww-other-corp").encrypt_message(XML, nonce="n", timestamp="1")
    with pytest.raises(BadReceiveId):
        ours().decrypt_callback(envelope, query(envelope)["msg_signature"], "1", "n")
    envelope = CallbackCrypto(TOKEN, KEY, "ww-other-corp").encrypt(XML, nonce="n", timestamp="1")
    with pytest.raises(wechatpy_work_exceptions.InvalidCorpIdException):
        theirs().decrypt_message(envelope, query(envelope)["msg_signature"], "1", "n")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml></xml>",
        b"<xml><Encrypt>!!!not base64!!!</Encrypt></xml>",
        b"<xml><Encrypt>AAAA</Encrypt></xml>",
        b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><Encrypt>&e;</Encrypt></xml>',
    ],
)
def test_garbage_is_malformed(body: bytes) -> None:
    from defusedxml import ElementTree

    try:
        encrypted = ElementTree.fromstring(body).findtext("Encrypt") or ""
    except Exception:
        encrypted = ""
    sig = signature(TOKEN, "1", "n", encrypted.strip())
    with pytest.raises(MalformedCallback):
        ours().decrypt_callback(body, sig, "1", "n")


def test_a_ciphertext_under_another_key_is_refused() -> None:
    other = CallbackCrypto(TOKEN, base64.b64encode(os.urandom(32)).decode().rstrip("="), CORP)
    envelope = other.encrypt(XML, nonce="n", timestamp="1")
    with pytest.raises((MalformedCallback, BadReceiveId)):
        ours().decrypt_callback(envelope, query(envelope)["msg_signature"], "1", "n")


def test_crypto_for_options() -> None:
    from qunflow.engine.connectors.wecom.options import WecomOptions

    options = WecomOptions(corp_id=CORP, secret="s", agent_id=1, token=TOKEN, encoding_aes_key=KEY)
    envelope = CallbackCrypto.for_options(options).encrypt(XML, nonce="n", timestamp="1")
    assert ours().decrypt_callback(envelope, query(envelope)["msg_signature"], "1", "n") == XML
