"""WireGuard devices over the generic netlink family "wireguard": keys, port, mark, peers.

A mixin of `Netlink`: `_op_wireguard_<verb>(self, netns, **args)` are reached through
`Netlink.execute(Request("wireguard.<verb>", ...))`. The messages are pyroute2's (`wgmsg` of
`pyroute2.netlink.generic.wireguard`), sent on a socket bound to the family in the link's
namespace, as `wg set` and `wg show` do.

Keys arrive as `SecretStr` (base64) and are unwrapped only into the message. The kernel
returns a device's private key and its peers' preshared keys to a reader with CAP_NET_ADMIN;
observation never keeps them: it keeps the device's public key, and a salted fingerprint
(`vnet.secrets.fingerprint`) of each secret, which the kind compares with the file's key.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..datatypes import datatype, field
from ..observe import LinkState
from . import genl

if TYPE_CHECKING:  # keys arrive wrapped; the models are imported only where a key is handled
    from ..declare import SecretStr

GENL_NAME = "wireguard"
CMD_GET_DEVICE, CMD_SET_DEVICE = 0, 1
WGPEER_F_REMOVE_ME, WGPEER_F_REPLACE_ALLOWEDIPS = 0x1, 0x2
_ZERO_KEY = bytes(32)


@datatype(frozen=True)
class WireguardPeer:
    """One peer as the kernel reports it (its preshared key only as a fingerprint)."""

    public_key: str  # base64
    endpoint: str | None  # "192.0.2.1:51820", "[2001:db8::1]:51820"
    allowed_ips: tuple[str, ...]  # networks, sorted
    persistent_keepalive: int
    psk_fingerprint: str | None = None  # None: no preshared key


@datatype
class WireguardState:
    """A WireGuard device's configuration as the kernel reports it, without its secrets."""

    ifname: str
    public_key: str | None  # base64; None: no private key set
    key_fingerprint: str | None
    listen_port: int
    fwmark: int
    peers: dict[str, WireguardPeer] = field(default_factory=dict)  # by public key


def key_fingerprint(raw: bytes, salt: bytes | None = None) -> str:
    """`salt:hmac` of key bytes, as `vnet.secrets.fingerprint` makes it from the same key
    in hex (without importing pydantic)."""
    import hashlib  # here: every run imports the door, few read a WireGuard key
    import hmac
    salt = os.urandom(16) if salt is None else salt
    return f"{salt.hex()}:{hmac.new(salt, raw, hashlib.sha256).hexdigest()}"


def endpoint_text(addr: str, port: int) -> str:
    """An endpoint as the file writes it."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _b64(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def build_set(ifindex: int, private_key: SecretStr | None = None,
              listen_port: int | None = None, fwmark: int | None = None,
              peer: dict[str, Any] | None = None) -> Any:
    """One WG_CMD_SET_DEVICE message (not sent): what the ops send, testable without root."""
    import base64
    from socket import AF_INET, AF_INET6, inet_pton

    from pyroute2.netlink.generic.wireguard import wgmsg
    msg = wgmsg()
    msg["cmd"] = CMD_SET_DEVICE
    msg["version"] = 1
    msg["attrs"].append(["WGDEVICE_A_IFINDEX", ifindex])
    if private_key is not None:
        msg["attrs"].append(["WGDEVICE_A_PRIVATE_KEY", private_key.get_secret_value()])
    if listen_port is not None:
        msg["attrs"].append(["WGDEVICE_A_LISTEN_PORT", listen_port])
    if fwmark is not None:
        msg["attrs"].append(["WGDEVICE_A_FWMARK", fwmark])
    if peer is not None:
        attrs: list[list[Any]] = [["WGPEER_A_PUBLIC_KEY", peer["public_key"]]]
        if peer.get("remove"):
            attrs.append(["WGPEER_A_FLAGS", WGPEER_F_REMOVE_ME])
        else:
            attrs.append(["WGPEER_A_FLAGS", WGPEER_F_REPLACE_ALLOWEDIPS])
            if peer.get("endpoint"):
                host, _, port = peer["endpoint"].rpartition(":")
                attrs.append(["WGPEER_A_ENDPOINT", {"addr": host.strip("[]"),
                                                    "port": int(port)}])
            psk = peer.get("preshared_key")
            attrs.append(["WGPEER_A_PRESHARED_KEY", psk.get_secret_value() if psk is not None
                          else base64.b64encode(_ZERO_KEY).decode()])
            attrs.append(["WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL",
                          int(peer.get("persistent_keepalive") or 0)])
            ips = []
            for net in peer.get("allowed_ips", ()):
                addr, _, mask = net.partition("/")
                family = AF_INET6 if ":" in addr else AF_INET
                ips.append({"attrs": [["WGALLOWEDIP_A_FAMILY", family],
                                      ["WGALLOWEDIP_A_IPADDR", inet_pton(family, addr)],
                                      ["WGALLOWEDIP_A_CIDR_MASK", int(mask)]]})
            attrs.append(["WGPEER_A_ALLOWEDIPS", ips])
        msg["attrs"].append(["WGDEVICE_A_PEERS", [{"attrs": attrs}]])
    return msg


def _secret_fp(value: Any) -> str | None:
    """The fingerprint of a key the kernel reported (base64), None for none (all zero)."""
    if value is None:
        return None
    import base64
    raw = base64.b64decode(value)
    return None if raw == _ZERO_KEY else key_fingerprint(raw)


def parse_device(replies: list[Any], ifname: str) -> WireguardState:
    """The replies of one WG_CMD_GET_DEVICE dump (a device of many peers spans several) ->
    WireguardState, with fingerprints in place of secrets."""
    import base64
    state = WireguardState(ifname, None, None, 0, 0)
    for reply in replies:
        public = reply.get_attr("WGDEVICE_A_PUBLIC_KEY")
        if public is not None and base64.b64decode(public) != _ZERO_KEY:
            state.public_key = _b64(public)
        private = reply.get_attr("WGDEVICE_A_PRIVATE_KEY")
        if private is not None:
            state.key_fingerprint = _secret_fp(private)
        state.listen_port = reply.get_attr("WGDEVICE_A_LISTEN_PORT") or state.listen_port
        state.fwmark = reply.get_attr("WGDEVICE_A_FWMARK") or state.fwmark
        for peer in reply.get_attr("WGDEVICE_A_PEERS") or ():
            key = _b64(peer.get_attr("WGPEER_A_PUBLIC_KEY"))
            endpoint = peer.get_attr("WGPEER_A_ENDPOINT")
            where = endpoint_text(endpoint["addr"], endpoint["port"]) \
                if endpoint is not None and endpoint.get("port") else None
            ips = [ip["addr"] for ip in peer.get_attr("WGPEER_A_ALLOWEDIPS") or ()
                   if ip.get("addr")]
            old = state.peers.get(key)
            if old is not None:  # a peer's allowed IPs may continue in the next message
                ips += list(old.allowed_ips)
                where = where or old.endpoint
            state.peers[key] = WireguardPeer(
                key, where, tuple(sorted(set(ips))),
                int(peer.get_attr("WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL") or 0),
                _secret_fp(peer.get_attr("WGPEER_A_PRESHARED_KEY")) if old is None
                else old.psk_fingerprint)
    return state


#: what a kernel without the WireGuard family is told it lacks
LACKING = "the kernel has no WireGuard support"


class WireguardOps:
    """Keys, port, mark and peers of WireGuard devices; refusals reach `execute` as
    NetlinkError."""

    _index: Any

    def _wireguard(self, netns: str | None) -> Any:
        """WireGuard's generic netlink family in `netns` (door/genl.py)."""
        from pyroute2.netlink.generic.wireguard import wgmsg
        return genl.family_socket(netns, GENL_NAME, wgmsg, LACKING)

    def _wireguard_send(self, netns: str | None, msg: Any) -> None:
        from pyroute2.netlink.generic.wireguard import wgmsg
        genl.send(netns, GENL_NAME, wgmsg, LACKING, msg)

    def _op_wireguard_set(self, netns: str | None, ifname: str,
                          private_key: SecretStr | None = None, listen_port: int | None = None,
                          fwmark: int | None = None) -> None:
        self._wireguard_send(netns, build_set(self._index(netns, ifname), private_key,
                                              listen_port, fwmark))

    def _op_wireguard_set_peer(self, netns: str | None, ifname: str, public_key: str,
                               allowed_ips: list[str], endpoint: str | None = None,
                               persistent_keepalive: int | None = None,
                               preshared_key: SecretStr | None = None) -> None:
        self._wireguard_send(netns, build_set(self._index(netns, ifname), peer={
            "public_key": public_key, "endpoint": endpoint, "allowed_ips": allowed_ips,
            "persistent_keepalive": persistent_keepalive, "preshared_key": preshared_key}))

    def _op_wireguard_del_peer(self, netns: str | None, ifname: str, public_key: str) -> None:
        self._wireguard_send(netns, build_set(self._index(netns, ifname), peer={
            "public_key": public_key, "remove": True}))

    def read_wireguard(self, netns: str | None,
                       links: dict[str, LinkState]) -> dict[str, WireguardState]:
        """Every WireGuard device's configuration (a dump per device; nothing is asked when
        there is no WireGuard link)."""
        devices = [link for link in links.values() if link.kind == "wireguard"]
        if not devices:
            return {}
        from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
        from pyroute2.netlink.generic.wireguard import wgmsg
        out: dict[str, WireguardState] = {}
        with self._wireguard(netns) as sock:
            for link in devices:
                msg = wgmsg()
                msg["cmd"] = CMD_GET_DEVICE
                msg["version"] = 1
                msg["attrs"].append(["WGDEVICE_A_IFINDEX", link.index])
                replies = list(sock.nlm_request(msg, msg_type=sock.prid,
                                                msg_flags=NLM_F_REQUEST | NLM_F_DUMP))
                out[link.name] = parse_device(replies, link.name)
        return out
