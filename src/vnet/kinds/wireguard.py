"""wireguard — an encrypted layer-3 point-to-point (or point-to-multipoint) link over UDP.

`ip link add wg0 type wireguard`, then `wg set wg0 private-key FILE listen-port 51820 fwmark
0x10 peer PUBKEY endpoint 198.51.100.2:51820 allowed-ips 10.0.0.2/32 persistent-keepalive 25
preshared-key FILE`. The link itself has no kind options: everything is set over WireGuard's
generic netlink family, after the link exists (the door's `wireguard.*` operations).

Keys are base64, as `wg genkey` prints them, written in the file (`private_key:`) or, better,
read from a file it names (`private_key_file:`, mode 0600). They are `SecretStr` from loading
on: plans, `show`, errors, `--json` and exports never contain them. The kernel reports a
device's private key and its peers' preshared keys to root; the door keeps only salted
fingerprints of them in what it observes, and a changed key is planned as a change shown as
`private_key: (set) → (changed)`.

What the kernel changes in place: everything (key, port, mark, each peer). A peer is named by
its public key: a new key is a new peer (the old one is removed). A peer's allowed IPs are
replaced as a whole; its endpoint can be changed but not taken away (the kernel also learns
it from the packets it receives), so an endpoint the file leaves out is not compared.

`socket_netns`: the namespace whose network carries the encrypted packets. The kernel opens
the UDP socket in the namespace the link is created in, and keeps it there when the link moves:
vnet creates the link there and moves it into `netns` in the same request (`ip -n SOCK link
add NAME netns NS type wireguard`). The kernel does not report it, so it is not compared
on a live link: changing it needs a `vnet destroy` first.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from .. import secrets
from ..actions import Action, Request
from ..declare import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, SecretStr
from . import register
from .base import InterfaceBase, NetnsName, NotCapturable, empty_list, topology_index

KEY_SHOWN = "(set)"
KEY_CHANGED = "(changed)"


def _secret_input(value: Any) -> SecretStr | None:
    # before any type check: a failed union would quote the input in its error
    return None if value is None else SecretStr(secrets.clean_base64_key(value, "the key"))


def _public_input(value: Any) -> str:
    return secrets.clean_base64_key(value, "public_key")


def _endpoint_input(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("endpoint is ADDRESS:PORT (198.51.100.2:51820, [2001:db8::2]:51820)")
    host, sep, port = value.rpartition(":")
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
        number = int(port)
    except ValueError:
        raise ValueError(f"endpoint {value[:60]!r} is not ADDRESS:PORT (an IPv6 address in "
                         "brackets: [2001:db8::2]:51820); vnet resolves no names") from None
    if not sep or not 1 <= number <= 65535:
        raise ValueError(f"endpoint {value[:60]!r} needs a port 1-65535 after ':'")
    if address.version == 6 and not host.startswith("["):
        raise ValueError(f"write the IPv6 endpoint in brackets: [{address}]:{number}")
    return f"[{address}]:{number}" if address.version == 6 else f"{address}:{number}"


def _network_input(value: Any) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise ValueError(f"allowed IP {str(value)[:60]!r} is not a network (10.0.0.2/32, "
                         "0.0.0.0/0, ::/0)") from None


Secret = Annotated[SecretStr | None, BeforeValidator(_secret_input)]
PublicKey = Annotated[str, BeforeValidator(_public_input)]
Endpoint = Annotated[str, BeforeValidator(_endpoint_input)]
Network = Annotated[str, BeforeValidator(_network_input)]


def _read_secret(base: Path, name: str, report: Any, field: str) -> SecretStr | None:
    path = Path(name)
    try:
        return secrets.read_base64_key_file(path if path.is_absolute() else base / path)
    except ValueError as exc:
        report(field, str(exc))
        return None


class Peer(BaseModel):
    """One peer: who it is (its public key), where it is, and which addresses it may send
    from and be sent to."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    public_key: PublicKey = Field(description="The peer's public key, base64 (wg pubkey).")
    endpoint: Endpoint | None = Field(None, description="Where the peer is: ADDRESS:PORT "
                                                        "(IPv6 in brackets).")
    allowed_ips: list[Network] = Field(default_factory=empty_list,
                                       description="Networks routed to the peer and accepted "
                                                   "from it (0.0.0.0/0, 10.0.0.2/32).")
    persistent_keepalive: int | None = Field(None, ge=0, le=65535,
                                             description="Seconds between keepalives (0 or "
                                                         "omitted: off).")
    preshared_key: Secret = Field(None, description="Extra symmetric key, base64 (wg genpsk). "
                                                    "Prefer preshared_key_file.",
                                  json_schema_extra={"writeOnly": True})
    preshared_key_file: str | None = Field(None, description="File holding the preshared key "
                                                             "in base64 (mode 0600).")
    _psk: SecretStr | None = PrivateAttr(default=None)

    @property
    def psk(self) -> SecretStr | None:
        """The preshared key, from preshared_key or its file (read at load time)."""
        return self._psk or self.preshared_key


@register
class Wireguard(InterfaceBase):
    kind: Literal["wireguard"]
    listed = 57
    use_when = ("An encrypted layer-3 link to peers over UDP (modern VPN): sites or hosts\n"
                "joined across an untrusted network, keys per peer.")

    private_key: Secret = Field(None, description="This end's private key, base64 (wg genkey). "
                                                  "Prefer private_key_file.",
                                json_schema_extra={"writeOnly": True})
    private_key_file: str | None = Field(None, description="File holding the private key in "
                                                           "base64 (mode 0600), relative to "
                                                           "the topology file.")
    listen_port: int | None = Field(None, ge=0, le=65535,
                                    description="UDP port it listens on (omitted or 0: one the "
                                                "kernel picks).")
    fwmark: int | None = Field(None, ge=0, le=4_294_967_295,
                               description="Firewall mark of its outgoing packets (0: none).")
    peers: list[Peer] = Field(default_factory=empty_list, description="The peers, by public key.")
    socket_netns: NetnsName | None = Field(
        None, description="Namespace whose network carries the encrypted packets: the link is "
                          "made there and moved into netns (null: where vnet runs); omitted: "
                          "its own namespace.")
    _key: SecretStr | None = PrivateAttr(default=None)

    @property
    def secret(self) -> SecretStr | None:
        """The private key, from private_key or its file (read at load time)."""
        return self._key or self.private_key

    # ---- create ---------------------------------------------------------------------------
    def _moved(self) -> bool:
        return "socket_netns" in self.model_fields_set and self.socket_netns != self.netns

    def create_request(self) -> dict[str, Any]:
        req = super().create_request()
        if self._moved():
            req["made_in"] = {"netns": self.socket_netns}
        return req

    # ---- files ----------------------------------------------------------------------------
    def read_files(self, base: Path, report: Any) -> None:
        """Read private_key_file and each peer's preshared_key_file."""
        if self.private_key_file is not None and self.private_key is None:
            self._key = _read_secret(base, self.private_key_file, report, "private_key_file")
        for i, peer in enumerate(self.peers):
            if peer.preshared_key_file is not None and peer.preshared_key is None:
                peer._psk = _read_secret(base, peer.preshared_key_file, report,
                                         f"peers[{i}].preshared_key_file")

    # ---- checks ---------------------------------------------------------------------------
    def check(self, topo: Any, report: Any) -> None:
        if self.private_key is not None and self.private_key_file is not None:
            report("private_key", "the private key is given twice (private_key and "
                   "private_key_file)", "keep private_key_file")
        if self._moved() and self.netns is None:
            report("socket_netns", "socket_netns is for a link in a namespace (netns:), made "
                   "where its packets go and moved there", "add netns:, or remove socket_netns")
        elif self._moved() and self.socket_netns is not None and self.socket_netns not in \
                topology_index(topo, "declared", lambda t: set(t.namespaces)):
            report("socket_netns", f"namespace {self.socket_netns!r} is not declared",
                   f"add {self.socket_netns!r} to 'namespaces', or fix the name")
        keys: dict[str, int] = {}
        owners: dict[str, int] = {}
        for i, peer in enumerate(self.peers):
            if peer.public_key in keys:
                report(f"peers[{i}].public_key", "this peer is listed twice",
                       f"merge it with peers[{keys[peer.public_key]}]")
            keys.setdefault(peer.public_key, i)
            if peer.preshared_key is not None and peer.preshared_key_file is not None:
                report(f"peers[{i}].preshared_key", "the preshared key is given twice",
                       "keep preshared_key_file")
            for net in peer.allowed_ips:
                if net in owners and owners[net] != i:
                    report(f"peers[{i}].allowed_ips", f"{net} is allowed for peers[{owners[net]}] "
                           "too; the kernel gives an address range to one peer only",
                           "keep it on one peer")
                owners.setdefault(net, i)

    # ---- planning -------------------------------------------------------------------------
    def _where(self) -> str:
        return f"{self.netns}/{self.name}" if self.netns else self.name

    def plan_extras(self, netns_state: Any, live: Any) -> list[Any]:
        """The device's key, port and mark, then its peers: set what differs, add what is
        missing, remove the peers the file no longer has."""
        state = None
        if live is not None and netns_state is not None:
            state = getattr(netns_state, "wireguard", {}).get(self.name)
        acts = self._plan_device(state)
        have = state.peers if state is not None else {}
        for peer in self.peers:
            acts += self._plan_peer(peer, have.get(peer.public_key))
        for key in sorted(set(have) - {p.public_key for p in self.peers}):
            old = have[key]
            acts.append(Action(
                "remove", f"wireguard peer {_short(key)} on {self._where()}", "not in the file",
                [self._del_peer(key)], [self._set_peer_as(old)],
                undo_gap=_psk_gap(old, self._where())))
        return acts

    def _plan_device(self, state: Any) -> list[Any]:
        ns = self.netns
        label = f"wireguard device {self._where()}"
        want: dict[str, Any] = {}
        if self.secret is not None:
            want["private_key"] = self.secret
        for opt in ("listen_port", "fwmark"):
            if getattr(self, opt) is not None:
                want[opt] = getattr(self, opt)
        if not want:
            return []
        if state is None:  # a new link: undone by its deletion
            return [Action("create", label, "declared",
                           [Request("wireguard.set", ns, {"ifname": self.name, **want})])]
        args: dict[str, Any] = {}
        old: dict[str, Any] = {}
        diff: dict[str, tuple[Any, Any]] = {}
        key = want.get("private_key")
        if key is not None and not _matches(key, state.key_fingerprint, clamped=True):
            args["private_key"] = key
            diff["private_key"] = (KEY_SHOWN if state.key_fingerprint else "(none)",
                                   KEY_CHANGED)
        for opt in ("listen_port", "fwmark"):
            if opt in want and want[opt] != getattr(state, opt):
                args[opt] = want[opt]
                old[opt] = getattr(state, opt)
                diff[opt] = (getattr(state, opt), want[opt])
        if not args:
            return []
        gap = "" if "private_key" not in args else (
            f"the previous private key of {self._where()} is not kept by vnet: it cannot be "
            "put back")
        undo = [Request("wireguard.set", ns, {"ifname": self.name, **old})] if old else []
        return [Action("change", label, "differs from the file",
                       [Request("wireguard.set", ns, {"ifname": self.name, **args})], undo,
                       undo_gap=gap, diff=diff)]

    def _peer_args(self, peer: Peer) -> dict[str, Any]:
        args: dict[str, Any] = {"ifname": self.name, "public_key": peer.public_key,
                                "allowed_ips": sorted(peer.allowed_ips)}
        if peer.endpoint is not None:
            args["endpoint"] = peer.endpoint
        if peer.persistent_keepalive:
            args["persistent_keepalive"] = peer.persistent_keepalive
        if peer.psk is not None:
            args["preshared_key"] = peer.psk
        return args

    def _set_peer_as(self, old: Any) -> Request:
        """Put a peer back as it was (its preshared key, never kept, left out)."""
        args: dict[str, Any] = {"ifname": self.name, "public_key": old.public_key,
                                "allowed_ips": list(old.allowed_ips)}
        if old.endpoint is not None:
            args["endpoint"] = old.endpoint
        if old.persistent_keepalive:
            args["persistent_keepalive"] = old.persistent_keepalive
        return Request("wireguard.set_peer", self.netns, args)

    def _del_peer(self, key: str) -> Request:
        return Request("wireguard.del_peer", self.netns, {"ifname": self.name,
                                                          "public_key": key})

    def _plan_peer(self, peer: Peer, cur: Any) -> list[Any]:
        label = f"wireguard peer {_short(peer.public_key)} on {self._where()}"
        do = [Request("wireguard.set_peer", self.netns, self._peer_args(peer))]
        if cur is None:
            return [Action("create", label, "declared", do, [self._del_peer(peer.public_key)])]
        diff: dict[str, tuple[Any, Any]] = {}
        if peer.endpoint is not None and peer.endpoint != cur.endpoint:
            diff["endpoint"] = (cur.endpoint, peer.endpoint)
        if tuple(sorted(set(peer.allowed_ips))) != cur.allowed_ips:
            diff["allowed_ips"] = (list(cur.allowed_ips), sorted(set(peer.allowed_ips)))
        if (peer.persistent_keepalive or 0) != cur.persistent_keepalive:
            diff["persistent_keepalive"] = (cur.persistent_keepalive,
                                            peer.persistent_keepalive or 0)
        psk = peer.psk
        if (psk is None) != (cur.psk_fingerprint is None) or (
                psk is not None and not _matches(psk, cur.psk_fingerprint)):
            diff["preshared_key"] = (KEY_SHOWN if cur.psk_fingerprint else "(none)",
                                     KEY_CHANGED if psk is not None else "(none)")
        if not diff:
            return []
        return [Action("change", label, "differs from the file", do, [self._set_peer_as(cur)],
                       undo_gap=_psk_gap(cur, self._where()), diff=diff)]

    # ---- capture --------------------------------------------------------------------------
    @classmethod
    def capture_from_file(cls, live: Any, netns_state: Any, declared: Any, folder: Any
                          ) -> dict[str, Any]:
        """Nothing when the device holds no key and no peer; otherwise NotCapturable: vnet
        never writes a key into a file, and a WireGuard entry without its keys would be a
        wrong one."""
        state = (getattr(netns_state, "wireguard", None) or {}).get(live.name)
        if state is None or (state.key_fingerprint is None and not state.peers):
            return {}
        raise NotCapturable(
            f"the WireGuard keys of {live.name} are not written into a file by vnet (the door "
            "keeps only salted fingerprints of them); write its entry by hand, naming each key "
            "with private_key_file: or preshared_key_file:")

    # ---- rendering ------------------------------------------------------------------------
    def ip_commands(self) -> list[list[str]]:
        """`ip link add`, made in socket_netns when it says so. The keys, port, mark and
        peers are WireGuard's, not iproute2's (`wg set`, of wireguard-tools): see
        `not_exported`."""
        if self._moved() and self.netns is not None:
            sock = ["-n", self.socket_netns] if self.socket_netns else []
            cmd = ["ip", *sock, "link", "add", "name", self.name, "netns", self.netns]
        else:
            cmd = ["ip", *(["-n", self.netns] if self.netns else []), "link", "add", "name",
                   self.name]
        return [[*cmd, "type", "wireguard"]]

    def not_exported(self) -> list[tuple[str, str]]:
        """The WireGuard configuration the file declares: iproute2 cannot set it (`wg set`
        of wireguard-tools does), so no export writes it, and none writes a key."""
        out: list[tuple[str, str]] = [
            (name, f"{name} is WireGuard's (wg set), not iproute2's: vnet apply sets it")
            for name in ("private_key", "private_key_file", "listen_port", "fwmark")
            if name in self.model_fields_set]
        if self.peers:
            out.append(("peers", "WireGuard peers are set by wg set, not iproute2: vnet "
                                 "apply sets them"))
        return out


def _short(key: str) -> str:
    """A public key as plans name a peer (its first characters, as `wg` abbreviates)."""
    return key[:10] + "..."


def clamp(raw: bytes) -> bytes:
    """An X25519 private key as the kernel keeps it (and reports it back): clamped."""
    key = bytearray(raw)
    key[0] &= 248
    key[31] = (key[31] & 127) | 64
    return bytes(key)


def _matches(key: SecretStr, stored: str | None, clamped: bool = False) -> bool:
    """Is `stored` the door's fingerprint of base64 key `key` (`clamped`: of the private key
    the kernel keeps for it)?"""
    import base64
    raw = base64.b64decode(key.get_secret_value())
    return secrets.matches(SecretStr((clamp(raw) if clamped else raw).hex()), stored)


def _psk_gap(old: Any, where: str) -> str:
    if old.psk_fingerprint is None:
        return ""
    return (f"the previous preshared key of peer {_short(old.public_key)} on {where} is not "
            "kept by vnet: it cannot be put back")
