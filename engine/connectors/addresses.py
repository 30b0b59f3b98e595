"""Which network addresses outbound calls may reach (DESIGN §14: no SSRF).

A URL's host is turned into IP addresses the way the operating system would (every IPv4 spelling
`inet_aton` takes: `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`; IPv6 literals; or a DNS lookup
through an injectable resolver), and every address is checked: loopback, private, link-local, cloud
metadata, shared, multicast, reserved and unspecified addresses are refused, also when an IPv6 address
carries one inside (`::ffff:127.0.0.1`, 6to4, Teredo, NAT64), unless an allow-listed network holds it.
The caller then connects to the checked address itself, so a second lookup cannot change the answer.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

from ..errors import UserError
from .base import AddressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
"""(host, port) → the host's IP addresses as text; raises OSError when the name does not resolve."""

# Cloud instance metadata services (AWS, GCP, Azure, Alibaba Cloud, Tencent Cloud, Oracle, ECS tasks).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.123",
        "100.100.100.200",
        "168.63.129.16",
        "169.254.0.23",
        "192.0.0.192",
        "fd00:ec2::254",
    )
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer (getaddrinfo), each address once, in its order."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def parse_ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written in any form `inet_aton` accepts (1 to 4 parts, each decimal, octal
    with a leading 0, or hex with 0x; the last part fills the remaining bytes), or None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        text = part.lower()
        try:
            if text.startswith("0x"):
                numbers.append(int(text[2:] or "0", 16))
            elif len(text) > 1 and text.startswith("0"):
                numbers.append(int(text[1:], 8))
            else:
                if not (text.isascii() and text.isdigit()):
                    return None
                numbers.append(int(text, 10))
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally (IPv6 with or without brackets, or any IPv4 spelling)."""
    text = host.strip().rstrip(".").removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return parse_ipv4_number(text)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64, compatible)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


# How the deliveries page says each kind of refused address (DeliveryFailed messages are 简体中文 first).
REFUSAL_WORDS = {
    "cloud metadata": "云服务器元数据",
    "unspecified": "未指定",
    "loopback": "本机回环",
    "link-local": "链路本地",
    "private": "内网",
    "multicast": "组播",
    "shared (carrier-grade NAT)": "运营商共享（CGNAT）",
    "reserved": "保留",
    "non-public": "非公网",
}


def refusal(address: IPAddress) -> str | None:
    """Why an address may not be called (`loopback`, `private`, ...), or None for a public address."""
    inner = embedded_ipv4(address)
    if inner is not None:
        why = refusal(inner)
        if why is not None:
            return why
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(int(address))  # the same address without its zone
    if address in METADATA:
        return "cloud metadata"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("shared (carrier-grade NAT)", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def parse_allow_list(entries: Iterable[str]) -> list[IPNetwork]:
    """Networks from `10.0.0.0/8`, `127.0.0.1` or `::1` entries; a bad entry is a UserError naming it."""
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise UserError(f"allow: `{entry}` is not an IP address or network like 10.0.0.0/8") from None
    return networks


class AddressPolicy:
    """Resolves hosts and refuses what must not be called; `allow` lists networks that may be."""

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver = system_resolver) -> None:
        self.allow = parse_allow_list(allow)
        self.resolver = resolver

    def allowed(self, address: IPAddress) -> bool:
        candidates = [address]
        inner = embedded_ipv4(address)
        if inner is not None:
            candidates.append(inner)
        return any(a in network for a in candidates for network in self.allow if a.version == network.version)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` stands for, each checked; raises AddressRefused if any is refused
        (a name that resolves to one public and one private address is refused too). An address with
        a zone (`[fe80::1%25eth0]`) is refused whatever it is: it names an interface of this server."""
        if "%" in host:
            raise AddressRefused(
                f"拒绝访问 {host[:100]}：带网络接口标识（%）的地址指向本服务器的网卡"
                " (refused to call: an address with a zone (%) names a network interface of this server)"
            )
        literal = ip_literal(host)
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)]
            except (OSError, UnicodeError) as error:
                raise AddressRefused(
                    f"无法解析域名 {host}（{error}） (the name does not resolve)", retryable=True
                ) from None
            if not found:
                raise AddressRefused(
                    f"域名 {host} 没有解析到任何地址 (the name does not resolve to any address)",
                    retryable=True,
                )
        for address in found:
            why = refusal(address)
            if why is not None and not self.allowed(address):
                shown = host if literal is None else f"{host} ({address})" if str(address) != host else host
                raise AddressRefused(
                    f"拒绝访问 {shown}：{address} 是{REFUSAL_WORDS.get(why, why)}地址，"
                    "管理员可在连接器页把它加入允许列表"
                    f" (refused to call: {address} is a {why} address; allow-list it to permit)"
                )
        return found
