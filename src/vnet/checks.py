"""`checks:` in a topology file: what to prove with real packets, resolved into probes.

Pure: the model, validation against the topology (every target must be an address of the
topology's own namespaces), and the resolution into `Probe`s. The probes themselves run in
`door/probes.py`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .errors import Collector
from .kinds.base import IP

PROBES = ("ping", "tcp", "udp", "mtu", "can", "rate", "nlmon")


def check_host_port(value: str) -> str:
    """`192.0.2.1:80` or `[2001:db8::1]:80`, normalised."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not ADDRESS:PORT (e.g. 192.0.2.1:8080 or "
                         "[2001:db8::1]:8080)")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} in {value!r} is not an IP address") from None
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def check_place(value: str) -> str:
    """`NAMESPACE` or `NAMESPACE/IFNAME`."""
    ns, _, ifname = value.partition("/")
    if not ns or "/" in ifname or (value.endswith("/") and not ifname):
        raise ValueError(f"{value!r} is not NAMESPACE or NAMESPACE/INTERFACE")
    return value


HostPort = Annotated[str, AfterValidator(check_host_port)]
Place = Annotated[str, AfterValidator(check_place)]


class Encap(BaseModel):
    """Assert that the probe's packets cross an interface as UDP to a port (e.g. VXLAN)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    watch: Place = Field(description="NAMESPACE/INTERFACE to watch (the underlay).")
    udp: int = Field(ge=1, le=65535, description="UDP destination port the packets must use.")


class Check(BaseModel):
    """One assertion proved with real packets inside the topology's namespaces."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    name: str | None = Field(None, description="Label shown in the report.")
    from_: Place = Field(alias="from", description="NAMESPACE or NAMESPACE/INTERFACE to "
                         "send from.")
    ping: IP | None = Field(None, description="ICMP echo to this address.")
    tcp: HostPort | None = Field(None, description="TCP connect to ADDRESS:PORT (vnet listens "
                                 "there for the check).")
    udp: HostPort | None = Field(None, description="UDP datagram to ADDRESS:PORT and its echo "
                                 "(vnet answers there for the check).")
    mtu: int | None = Field(None, ge=68, le=65535, description="Path MTU to `to`: an unfragmented"
                            " packet of this many bytes gets through.")
    to: IP | None = Field(None, description="Destination of an `mtu` check.")
    can: Place | None = Field(None, description="NAMESPACE/INTERFACE that must receive a CAN "
                              "frame sent on `from` (NAMESPACE/INTERFACE).")
    rate: HostPort | None = Field(None, description="Send UDP to ADDRESS:PORT for `timeout` "
                                  "seconds at twice `expect_rate` and measure what arrives.")
    expect_rate: str | None = Field(None, description="Rate a `rate` check must measure, as tc "
                                    "spells it (10mbit).")
    tolerance: int = Field(20, ge=1, le=100, description="Allowed deviation of a `rate` check, "
                           "in percent.")
    failover: Place | None = Field(None, description="For a ping: set this NAMESPACE/INTERFACE "
                                   "down after a third of the pings, up again after them; at "
                                   "most 3 may be lost.")
    nlmon: Place | None = Field(None, description="NAMESPACE/INTERFACE of an nlmon device that "
                                "must see the netlink messages of a link dump made in `from`.")
    expect: Literal["ok", "fail"] = Field("ok", description="ok: must work; fail: must not.")
    count: int = Field(2, ge=1, le=20, description="Packets to send (ping, mtu).")
    timeout: float = Field(2.0, gt=0, le=30, description="Seconds to wait for an answer.")
    encap: Encap | None = Field(None, description="Also watch an interface for the packets.")

    @model_validator(mode="after")
    def _one_probe(self) -> Check:
        given = [p for p in PROBES if getattr(self, p) is not None]
        if len(given) != 1:
            raise ValueError(f"a check needs exactly one of {', '.join(PROBES)} "
                             f"(got {', '.join(given) or 'none'})")
        if self.mtu is not None and self.to is None:
            raise ValueError("an mtu check needs 'to' (the address to reach)")
        if self.to is not None and self.mtu is None:
            raise ValueError("'to' is only used with mtu")
        if (self.rate is None) != (self.expect_rate is None):
            raise ValueError("a rate check needs both 'rate' (ADDRESS:PORT) and 'expect_rate'")
        if self.expect_rate is not None:
            from .features.shaping import parse_rate  # tc's units, shared with shaping
            parse_rate(self.expect_rate)
        if self.failover is not None and self.ping is None:
            raise ValueError("'failover' is only used with ping")
        if self.failover is not None and self.count < 6:
            raise ValueError("a failover ping needs count of at least 6 (a third before the "
                             "port goes down, the rest after)")
        return self

    @property
    def probe(self) -> str:
        return next(p for p in PROBES if getattr(self, p) is not None)


@dataclass(frozen=True)
class Probe:
    """A check resolved against the topology: where each end lives."""

    label: str
    probe: str
    src_ns: str
    src_dev: str | None
    dst_ns: str | None  # where the target address (or CAN receiver) lives
    dst_addr: str | None
    dst_dev: str | None
    port: int | None
    mtu: int | None
    expect: str
    count: int
    timeout: float
    encap_ns: str | None = None
    encap_dev: str | None = None
    encap_port: int | None = None
    expect_rate: int | None = None  # bytes per second
    tolerance: int = 20
    failover_ns: str | None = None
    failover_dev: str | None = None

    @property
    def target(self) -> str:
        if self.probe in ("can", "nlmon"):
            return f"{self.dst_ns}/{self.dst_dev}"
        if self.port is not None:
            host = f"[{self.dst_addr}]" if ":" in (self.dst_addr or "") else self.dst_addr
            return f"{host}:{self.port}"
        return self.dst_addr or ""


def _split(place: str) -> tuple[str, str | None]:
    ns, _, dev = place.partition("/")
    return ns, (dev or None)


def _some(names: list[str], most: int = 10) -> str:
    """The first names of a list, for a hint (a file may declare thousands)."""
    more = f", ... ({len(names) - most} more)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def resolve_checks(topo: Any, issues: Collector) -> list[Probe]:
    """Validate each check against the topology and resolve it into a Probe. Every target must
    be an address of an interface in one of the topology's own namespaces."""
    if not topo.checks:  # the indexes below cost a large file's load a twentieth
        return []
    ends = topo.endpoints()
    by_key = {(e.netns, e.name): e for e in ends}
    declared = set(topo.namespaces)  # a file may declare thousands: no list scan per end
    owners: dict[str, tuple[str, str]] = {}
    for end in ends:
        if end.netns in declared:
            for addr in end.addresses:
                owners.setdefault(addr.split("/")[0], (end.netns, end.name))
    probes: list[Probe] = []
    for i, chk in enumerate(topo.checks):
        path = f"checks[{i}]"

        def bad(field: str, message: str, hint: str = "", path: str = path) -> None:
            issues.add(message, f"{path}.{field}", topo.where(f"{path}.{field}"), hint)

        ok = True
        places = [("from", chk.from_)] + ([("can", chk.can)] if chk.can else []) + \
            ([("nlmon", chk.nlmon)] if chk.nlmon else []) + \
            ([("encap.watch", chk.encap.watch)] if chk.encap else []) + \
            ([("failover", chk.failover)] if chk.failover else [])
        for field, place in places:
            ns, dev = _split(place)
            if ns not in declared:
                bad(field, f"namespace {ns!r} is not one of this topology's namespaces",
                    f"use one of: {_some(topo.namespaces) or '(none declared)'}")
                ok = False
            elif dev is not None and (ns, dev) not in by_key:
                bad(field, f"interface {dev!r} is not defined in namespace {ns!r}",
                    "name an interface of this file in that namespace")
                ok = False
        src_ns, src_dev = _split(chk.from_)
        dst_ns = dst_dev = dst_addr = None
        port = None
        if chk.probe == "can":
            for field, place in (("from", chk.from_), ("can", chk.can or "")):
                ns, dev = _split(place)
                end = by_key.get((ns, dev)) if dev else None
                if dev is None:
                    bad(field, "a CAN check names an interface: NAMESPACE/INTERFACE")
                    ok = False
                elif end is not None and end.kind not in ("vcan", "vxcan"):
                    bad(field, f"{place} is a {end.kind}, not a CAN interface (vcan, vxcan)")
                    ok = False
            dst_ns, dst_dev = _split(chk.can or "")
        elif chk.probe == "nlmon":
            dst_ns, dst_dev = _split(chk.nlmon or "")
            end = by_key.get((dst_ns, dst_dev)) if dst_dev else None
            if dst_dev is None:
                bad("nlmon", "an nlmon check names the device: NAMESPACE/INTERFACE")
                ok = False
            elif end is not None and end.kind != "nlmon":
                bad("nlmon", f"{chk.nlmon} is a {end.kind}, not an nlmon device")
                ok = False
            elif dst_ns != src_ns:
                bad("from", f"an nlmon device sees the netlink traffic of its own namespace "
                    f"only: send from {dst_ns}")
                ok = False
        else:
            field = chk.probe if chk.probe != "mtu" else "to"
            raw = getattr(chk, field)
            if chk.probe in ("tcp", "udp", "rate"):
                host, _, p = raw.rpartition(":")
                dst_addr, port = host.strip("[]"), int(p)
            else:
                dst_addr = raw
            owner = owners.get(dst_addr)
            if owner is None:
                bad(field, f"{dst_addr} is not an address of this topology's namespaces",
                    "vnet sends test traffic only to addresses it creates: use one declared "
                    "on an interface in one of the file's namespaces")
                ok = False
            else:
                dst_ns, dst_dev = owner
        if not ok:
            continue
        label = chk.name or f"{chk.probe} {chk.from_} → " + str(
            getattr(chk, chk.probe if chk.probe != "mtu" else "to"))
        enc_ns, enc_dev = _split(chk.encap.watch) if chk.encap else (None, None)
        fo_ns, fo_dev = _split(chk.failover) if chk.failover else (None, None)
        rate = None
        if chk.expect_rate is not None:
            from .features.shaping import parse_rate
            rate = parse_rate(chk.expect_rate)
        probes.append(Probe(label, chk.probe, src_ns, src_dev, dst_ns, dst_addr, dst_dev, port,
                            chk.mtu, chk.expect, chk.count, chk.timeout, enc_ns, enc_dev,
                            chk.encap.udp if chk.encap else None, rate, chk.tolerance,
                            fo_ns, fo_dev))
    return probes


@dataclass
class CheckResult:
    """What a probe observed."""

    probe: Probe
    passed: bool
    observed: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        p = self.probe
        return {"check": p.label, "probe": p.probe, "from": p.src_ns + (
            f"/{p.src_dev}" if p.src_dev else ""), "to": p.target, "expected": p.expect,
            "observed": self.observed, "passed": self.passed, "seconds": round(self.seconds, 3)}
