"""Checks with real packets, from inside the topology's namespaces. Part of the kernel door.

Every socket is created in its namespace by a short-lived thread that enters it with setns
(a namespace switch is per thread), then used from the caller's thread; the socket stays in
the namespace it was born in. Every probe is bounded in packets and in time.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from ..checks import CheckResult, Probe, Series, judge_series

NETNS_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_REC = 0x4000
_MS_SLAVE = 1 << 19
_MNT_DETACH = 2
_SO_BINDTODEVICE = 25
_IP_MTU_DISCOVER, _IP_PMTUDISC_DO = 10, 2
_IPV6_MTU_DISCOVER, _IPV6_PMTUDISC_DO, _IPV6_DONTFRAG = 23, 2, 62
_ETH_P_ALL = 0x0003
_CAN_RAW = 1
_libc = ctypes.CDLL(None, use_errno=True)


class ProbeError(Exception):
    """A probe could not even start (namespace or interface missing)."""


def _ns_path(netns: str) -> str:
    return os.path.join(NETNS_DIR, netns)


def socket_in(netns: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket created inside network namespace `netns`."""
    result: dict[str, Any] = {}

    def born() -> None:
        try:
            fd = os.open(_ns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            result["error"] = ProbeError(f"namespace {netns} does not exist (apply first)")
            return
        try:
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                result["error"] = ProbeError(f"cannot enter namespace {netns}: "
                                             f"{os.strerror(code)}")
                return
            result["sock"] = socket.socket(family, kind, proto)
        except OSError as exc:
            result["error"] = ProbeError(f"socket in {netns}: {exc.strerror or exc}")
        finally:
            os.close(fd)

    worker = threading.Thread(target=born, name=f"vnet-netns-{netns}")
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["sock"]


def _family(addr: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET


def _bind_dev(sock: socket.socket, dev: str | None) -> None:
    if dev:
        sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, dev.encode())


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_rounds(p: Probe, payload_len: int, dont_fragment: bool) -> tuple[int, str]:
    """Send `count` ICMP echoes to p.dst_addr from p.src_ns; return (replies, note)."""
    assert p.dst_addr is not None
    fam = _family(p.dst_addr)
    v6 = fam == socket.AF_INET6
    sock = socket_in(p.src_ns, fam, socket.SOCK_RAW,
                     socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    try:
        _bind_dev(sock, p.src_dev)
        if dont_fragment:
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_MTU_DISCOVER, _IPV6_PMTUDISC_DO)
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_DONTFRAG, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
        ident = os.getpid() & 0xFFFF ^ (id(p) & 0xFFFF)
        answered: set[int] = set()
        for seq in range(1, p.count + 1):
            body = (b"vnet-check" * ((payload_len // 10) + 1))[:max(payload_len, 0)]
            kind = 128 if v6 else 8
            head = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
            if not v6:  # the kernel fills the ICMPv6 checksum itself
                head = struct.pack("!BBHHH", kind, 0, _checksum(head + body), ident, seq)
            try:
                sock.sendto(head + body, (p.dst_addr, 0))
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    return len(answered), "too big for the local route's MTU (EMSGSIZE)"
                return len(answered), f"send failed: {exc.strerror}"
            _await_reply(sock, p, v6, ident, seq, answered)
        return len(answered), ""
    finally:
        sock.close()


def _await_reply(sock: socket.socket, p: Probe, v6: bool, ident: int, seq: int,
                 answered: set[int]) -> None:
    """Wait up to p.timeout for the reply to echo `seq`; every reply of this probe that comes
    meanwhile (a late one to an earlier echo, held up by a busy machine or a neighbour being
    resolved) is added to `answered`."""
    deadline = time.monotonic() + p.timeout
    want = ipaddress.ip_address(p.dst_addr or "")
    while seq not in answered and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return
        data, addr = sock.recvfrom(65535)
        if not v6:
            data = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets see the IP header
        if len(data) < 8 or ipaddress.ip_address(addr[0].split("%")[0]) != want:
            continue
        kind, _, _, rid, rseq = struct.unpack("!BBHHH", data[:8])
        if kind == (129 if v6 else 0) and rid == ident and 1 <= rseq <= seq:
            answered.add(rseq)


def _echo_of(data: bytes, addr: Any, v6: bool, want: Any) -> tuple[int, int] | None:
    """(ident, seq) of an echo reply from `want`, else None."""
    if not v6:
        data = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets see the IP header
    if len(data) < 8 or ipaddress.ip_address(addr[0].split("%")[0]) != want:
        return None
    kind, _, _, rid, rseq = struct.unpack("!BBHHH", data[:8])
    return (rid, rseq) if kind == (129 if v6 else 0) else None


#: a measuring ping started with no `stop` ends after this long at most, whatever its count
SERIES_LONGEST = 3600.0


def measure_ping(p: Probe, stop: threading.Event | None = None,
                 ready: threading.Event | None = None) -> Series:
    """Ping as a timed series: one probe every `p.interval`, replies matched as they come.

    First it waits (at most `p.timeout`) until one probe is answered: the kernel may still be
    resolving the neighbour or finishing duplicate address detection, and those first
    probes would count as lost. Then `ready` is set and the series runs: `p.count` probes,
    or (with `stop`) until `stop` is set. It ends `p.timeout` after the last probe, or sooner
    when every probe is answered, and never later than twice its planned length plus that
    timeout (the note says so when it stops early)."""
    assert p.dst_addr is not None
    fam = _family(p.dst_addr)
    v6 = fam == socket.AF_INET6
    want = ipaddress.ip_address(p.dst_addr)
    sock = socket_in(p.src_ns, fam, socket.SOCK_RAW,
                     socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    ident = (os.getpid() ^ id(p) ^ threading.get_ident()) & 0xFFFF
    kind = 128 if v6 else 8
    body = b"vnet-measure" * 4

    def send(seq: int) -> str:
        head = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
        if not v6:  # the kernel fills the ICMPv6 checksum itself
            head = struct.pack("!BBHHH", kind, 0, _checksum(head + body), ident, seq)
        try:
            sock.sendto(head + body, (p.dst_addr, 0))
        except OSError as exc:
            return exc.strerror or str(exc)
        return ""

    def replies(wait: float) -> list[tuple[int, float]]:
        out = []
        ready_now, _, _ = select.select([sock], [], [], max(wait, 0))
        while ready_now:
            data, addr = sock.recvfrom(65535)
            now = time.monotonic()
            echo = _echo_of(data, addr, v6, want)
            if echo is not None and echo[0] == ident:
                out.append((echo[1], now))
            ready_now, _, _ = select.select([sock], [], [], 0)
        return out

    try:
        _bind_dev(sock, p.src_dev)
        # warm-up: seqs from 0xF000 down, never those of the series
        warm_until = time.monotonic() + p.timeout
        warm = 0
        answered_warm = False
        while not answered_warm and time.monotonic() < warm_until:
            send(0xF000 - warm)
            warm += 1
            step_end = min(time.monotonic() + 0.1, warm_until)
            while not answered_warm and (left := step_end - time.monotonic()) > 0:
                answered_warm = any(seq > 0xE000 for seq, _ in replies(left))
        if ready is not None:
            ready.set()
        sent_at: list[float] = []
        rtts: list[float | None] = []
        index: dict[int, int] = {}
        failed = ""
        start = time.monotonic()
        planned = SERIES_LONGEST if stop is not None else p.count * p.interval
        deadline = start + min(2 * planned, SERIES_LONGEST) + p.timeout
        due = start
        note = ""
        while True:
            now = time.monotonic()
            more = (not stop.is_set()) if stop is not None else len(sent_at) < p.count
            if more and now >= deadline - p.timeout:
                note = (f"stopped at the time bound after {len(sent_at)} probes "
                        f"(the machine is slow: raise 'interval' or lower 'count')")
                more = False
            if more and now >= due:
                seq = (len(sent_at) % 0xE000) + 1
                index[seq] = len(sent_at)
                sent_at.append(time.monotonic())
                rtts.append(None)
                error = send(seq)
                failed = failed or error
                due = max(due + p.interval, time.monotonic() - p.interval)
                continue
            if not more:
                last = sent_at[-1] if sent_at else start
                if all(r is not None for r in rtts) or now >= min(last + p.timeout, deadline):
                    break
                wait = min(last + p.timeout, deadline) - now
            else:
                wait = due - now
            for seq, at in replies(wait):
                i = index.get(seq)
                if i is not None and rtts[i] is None:
                    rtts[i] = at - sent_at[i]
        if failed:
            note = "; ".join(x for x in (note, f"some sends failed: {failed}") if x)
        return Series(sent_at, rtts, note)
    finally:
        sock.close()


def _ping(p: Probe) -> tuple[bool, str]:
    if p.failover_ns and p.failover_dev:
        return _failover(p)
    if p.measuring:
        return judge_series(p, measure_ping(p))
    replies, note = _echo_rounds(p, 56, dont_fragment=False)
    text = f"{replies}/{p.count} replies" + (f"; {note}" if note else "")
    return replies > 0, text


def _failover(p: Probe) -> tuple[bool, str]:
    """Ping while a port goes down after a third of the pings; it comes back up after."""
    from ..actions import Request
    from .netlink import Netlink

    assert p.failover_dev is not None
    first = max(p.count // 3, 1)
    before = after = 0
    with Netlink() as nl:
        port = Request("link.state", p.failover_ns, {"ifname": p.failover_dev, "up": False})
        try:
            before, _ = _echo_rounds(_with_count(p, first), 56, dont_fragment=False)
            nl.send([port])
            after, _ = _echo_rounds(_with_count(p, p.count - first), 56, dont_fragment=False)
        finally:
            nl.send([Request("link.state", p.failover_ns,
                             {"ifname": p.failover_dev, "up": True})])
    lost = p.count - before - after
    text = (f"{before}/{first} replies before {p.failover_ns}/{p.failover_dev} went down, "
            f"{after}/{p.count - first} after")
    return before > 0 and after > 0 and lost <= 3, text


def _with_count(p: Probe, count: int) -> Probe:
    from ..datatypes import replace
    return replace(p, count=count)


def _rate(p: Probe) -> tuple[bool, str]:
    """Offer twice the expected rate for `timeout` seconds; measure what arrives."""
    assert p.dst_ns and p.dst_addr and p.port and p.expect_rate
    fam = _family(p.dst_addr)
    server = socket_in(p.dst_ns, fam, socket.SOCK_DGRAM)
    client = socket_in(p.src_ns, fam, socket.SOCK_DGRAM)
    try:
        try:
            server.bind((p.dst_addr, p.port))
        except OSError as exc:
            return False, f"cannot listen on {p.target} in {p.dst_ns}: {exc.strerror}"
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        got: dict[str, float] = {"bytes": 0, "first": 0.0, "last": 0.0}
        stop = threading.Event()

        def count() -> None:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    n = len(server.recv(65535))
                except (TimeoutError, OSError):
                    continue
                now = time.monotonic()
                if not got["first"]:
                    got["first"] = now
                else:
                    got["bytes"] += n  # bytes after the first packet, over first..last
                got["last"] = now

        counter = threading.Thread(target=count, daemon=True)
        counter.start()
        size = 1200
        offered = 2 * p.expect_rate
        interval = size / offered
        payload = b"v" * size
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) - start < p.timeout:
            due = start + sent * interval
            if now < due:
                time.sleep(min(due - now, 0.01))
                continue
            try:
                client.sendto(payload, (p.dst_addr, p.port))
            except OSError as exc:
                if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    return False, f"send failed: {exc.strerror}"
            sent += 1
        time.sleep(0.5)  # what the shaper still holds drains
        stop.set()
        counter.join(1)
        span = got["last"] - got["first"]
        if span <= 0 or not got["bytes"]:
            return False, "nothing arrived"
        measured = got["bytes"] / span
        deviation = abs(measured - p.expect_rate) / p.expect_rate * 100
        text = (f"{measured * 8 / 1e6:.2f} Mbit/s measured, {p.expect_rate * 8 / 1e6:.2f} "
                f"expected ({deviation:.0f}% off, {p.tolerance}% allowed)")
        return deviation <= p.tolerance, text
    finally:
        client.close()
        server.close()


def _mtu(p: Probe) -> tuple[bool, str]:
    assert p.mtu is not None and p.dst_addr is not None
    header = 48 if _family(p.dst_addr) == socket.AF_INET6 else 28
    replies, note = _echo_rounds(p, p.mtu - header, dont_fragment=True)
    text = f"{replies}/{p.count} unfragmented {p.mtu}-byte packets answered" + (
        f"; {note}" if note else "")
    return replies > 0, text


def _tcp(p: Probe) -> tuple[bool, str]:
    assert p.dst_ns and p.dst_addr and p.port
    fam = _family(p.dst_addr)
    listener = socket_in(p.dst_ns, fam, socket.SOCK_STREAM)
    client = socket_in(p.src_ns, fam, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((p.dst_addr, p.port))
        except OSError as exc:
            return False, f"cannot listen on {p.target} in {p.dst_ns}: {exc.strerror}"
        listener.listen(4)
        _bind_dev(client, p.src_dev)
        client.settimeout(p.timeout)
        try:
            client.connect((p.dst_addr, p.port))
        except TimeoutError:
            return False, f"no answer in {p.timeout:g} s"
        except OSError as exc:
            return False, exc.strerror or str(exc)
        return True, "connected"
    finally:
        client.close()
        listener.close()


def _udp(p: Probe) -> tuple[bool, str]:
    assert p.dst_ns and p.dst_addr and p.port
    fam = _family(p.dst_addr)
    server = socket_in(p.dst_ns, fam, socket.SOCK_DGRAM)
    client = socket_in(p.src_ns, fam, socket.SOCK_DGRAM)
    stop = threading.Event()
    try:
        try:
            server.bind((p.dst_addr, p.port))
        except OSError as exc:
            return False, f"cannot listen on {p.target} in {p.dst_ns}: {exc.strerror}"
        server.settimeout(0.1)

        def echo() -> None:
            while not stop.is_set():
                try:
                    data, peer = server.recvfrom(2048)
                except (TimeoutError, OSError):
                    continue
                server.sendto(data, peer)

        echoer = threading.Thread(target=echo, daemon=True)
        echoer.start()
        _bind_dev(client, p.src_dev)
        client.settimeout(p.timeout)
        nonce = os.urandom(8)
        try:
            client.sendto(b"vnet-check " + nonce, (p.dst_addr, p.port))
            while True:
                data, _ = client.recvfrom(2048)
                if data.endswith(nonce):
                    return True, "echo received"
        except TimeoutError:
            return False, f"no echo in {p.timeout:g} s"
        except OSError as exc:
            return False, exc.strerror or str(exc)
        finally:
            stop.set()
            echoer.join(1)
    finally:
        client.close()
        server.close()


def _can(p: Probe) -> tuple[bool, str]:
    assert p.src_dev and p.dst_ns and p.dst_dev
    family = getattr(socket, "AF_CAN", 29)
    rx = socket_in(p.dst_ns, family, socket.SOCK_RAW, _CAN_RAW)
    tx = socket_in(p.src_ns, family, socket.SOCK_RAW, _CAN_RAW)
    try:
        try:
            rx.bind((p.dst_dev,))
            tx.bind((p.src_dev,))
        except OSError as exc:
            return False, f"cannot open the CAN interface: {exc.strerror}"
        nonce = os.urandom(8)
        frame = struct.pack("=IB3x8s", 0x123, 8, nonce)
        tx.send(frame)
        deadline = time.monotonic() + p.timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([rx], [], [], left)
            if not ready:
                break
            data = rx.recv(16)
            if data[8:16] == nonce:
                return True, "frame received"
        return False, f"no frame in {p.timeout:g} s"
    finally:
        tx.close()
        rx.close()


def _nlmon(p: Probe) -> tuple[bool, str]:
    """Capture on an nlmon device while a netlink link dump is made in `from`."""
    assert p.dst_ns and p.dst_dev
    capture = socket_in(p.dst_ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    talker = socket_in(p.src_ns, socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
    try:
        try:
            capture.bind((p.dst_dev, 0))
        except OSError as exc:
            return False, f"cannot capture on {p.dst_ns}/{p.dst_dev}: {exc.strerror}"
        capture.setblocking(False)
        # RTM_GETLINK dump: nlmsghdr(len, type 18, flags REQUEST|DUMP, seq, pid) + ifinfomsg
        request = struct.pack("=IHHII", 32, 18, 0x301, 1, 0) + struct.pack("=BxHiII", 0, 0, 0,
                                                                           0, 0)
        talker.send(request)
        deadline = time.monotonic() + p.timeout
        seen = 0
        while time.monotonic() < deadline and seen < 2:
            try:
                frame = capture.recv(65535)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            if len(frame) >= 16:
                seen += 1
        return seen >= 2, f"{seen} netlink message(s) captured on {p.dst_dev}"
    finally:
        talker.close()
        capture.close()


_RUNNERS: dict[str, Callable[[Probe], tuple[bool, str]]] = {
    "ping": _ping, "mtu": _mtu, "tcp": _tcp, "udp": _udp, "can": _can, "rate": _rate,
    "nlmon": _nlmon}


def _udp_dports(frame: bytes) -> int | None:
    """UDP destination port of an Ethernet frame, if it carries UDP (VLAN tags skipped)."""
    off, ethertype = 14, struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
    while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 4:
        ethertype = struct.unpack("!H", frame[off + 2:off + 4])[0]
        off += 4
    if ethertype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] == 17 and len(frame) >= off + ihl + 4:
            return int(struct.unpack("!H", frame[off + ihl + 2:off + ihl + 4])[0])
    if ethertype == 0x86DD and len(frame) >= off + 44 and frame[off + 6] == 17:
        return int(struct.unpack("!H", frame[off + 42:off + 44])[0])
    return None


#: how long a probe waits for the links it goes through to have carrier (a busy machine
#: may take a while to finish what apply started; a link that never gets it, as a tap no
#: program holds, only delays the probe, which then tells what it saw)
READY_WAIT = 10.0
_IFF_UP, _IFF_LOWER_UP = 0x1, 0x10000


def _route_oif(netns: str, addr: str, dev: str | None) -> int | None:
    """Index of the link the kernel of `netns` would send to `addr` through (None: no
    route)."""
    from pyroute2.iproute import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute(netns=netns, flags=0) as ipr:
        kw: dict[str, Any] = {"dst": addr, "family": _family(addr)}
        if dev is not None:
            found = ipr.link_lookup(ifname=dev)
            if not found:
                return None
            kw["oif"] = found[0]
        try:
            routes = ipr.route("get", **kw)
        except NetlinkError:
            return None
        oif = routes[0].get_attr("RTA_OIF") if routes else None
        return int(oif) if oif is not None else None


def _lacks_carrier(netns: str, index: int | None, name: str | None) -> str | None:
    """'NETNS/LINK has no carrier' when the link (by index or name) is up but cannot carry
    packets yet, else None: a link missing or set down will not change by waiting."""
    from . import rtnl
    with open(_ns_path(netns), "rb") as ns:
        rt = rtnl.Rtnl(ns.fileno())
    try:
        if index is not None:
            link = next((x for x in rtnl.dump_links(rt, counters=False) if x.index == index),
                        None)
        else:
            link = rt.get_link(name or "")
    finally:
        rt.close()
    if link is None or not link.flags & _IFF_UP or link.flags & _IFF_LOWER_UP:
        return None
    return f"{netns}/{link.name} has no carrier"


def wait_ready(p: Probe, seconds: float = READY_WAIT) -> str:
    """Wait, at most `seconds`, until the links a probe goes through have carrier: the link of
    the route to the target and the watched underlay link (carrier comes from the kernel in
    its own time after apply; a missing route or a link set down does not come by waiting).
    Returns what was still missing at the deadline ("" when ready)."""
    if p.dst_addr is None and p.encap_ns is None:
        return ""
    deadline = time.monotonic() + seconds
    while True:
        missing = None
        try:
            if p.dst_addr is not None and p.probe != "can":
                oif = _route_oif(p.src_ns, p.dst_addr, p.src_dev)
                if oif is not None:
                    missing = _lacks_carrier(p.src_ns, oif, None)
            if missing is None and p.encap_ns and p.encap_dev:
                missing = _lacks_carrier(p.encap_ns, None, p.encap_dev)
        except OSError:  # a namespace missing: the probe itself says so
            return ""
        if missing is None or time.monotonic() >= deadline:
            return missing or ""
        time.sleep(0.02)


def run_probe(p: Probe) -> CheckResult:
    """Run one probe, once the links it goes through are ready, and judge it against its
    expectation."""
    started = time.monotonic()
    capture = None
    try:
        not_ready = wait_ready(p) if p.expect == "ok" else ""
        if p.encap_ns and p.encap_dev:
            capture = socket_in(p.encap_ns, socket.AF_PACKET, socket.SOCK_RAW,
                                socket.htons(_ETH_P_ALL))
            capture.bind((p.encap_dev, 0))
            capture.setblocking(False)
        worked, observed = _RUNNERS[p.probe](p)
        if not_ready:
            observed += f"; after {READY_WAIT:.0f} s {not_ready}"
        if capture is not None:
            seen = _drain_udp(capture, p.encap_port or 0,
                              time.monotonic() + (p.timeout if worked else 0))
            observed += f"; {seen} UDP/{p.encap_port} packet(s) on {p.encap_ns}/{p.encap_dev}"
            if p.expect == "ok":
                worked = worked and seen > 0
    except ProbeError as exc:
        return CheckResult(p, False, str(exc), time.monotonic() - started)
    except OSError as exc:
        return CheckResult(p, False, f"error: {exc.strerror or exc}", time.monotonic() - started)
    finally:
        if capture is not None:
            capture.close()
    passed = worked if p.expect == "ok" else not worked
    return CheckResult(p, passed, observed, time.monotonic() - started)


def _drain_udp(sock: socket.socket, port: int, until: float) -> int:
    """UDP frames to `port` that the capture socket holds. A frame is queued to a packet
    socket as the link passes it, so what the probe sent is there once its answers are in:
    read it all, and only if none is to the port wait (till `until`) for one to come."""
    seen = 0
    while True:
        try:
            frame = sock.recv(65535)
        except BlockingIOError:
            left = until - time.monotonic()
            if seen or left <= 0:
                return seen
            select.select([sock], [], [], left)
            continue
        if _udp_dports(frame) == port:
            seen += 1


def exec_in(netns: str, argv: list[str]) -> int:
    """Run argv inside namespace `netns` (as `ip netns exec` does: its own /sys), wait for it,
    and return its exit status."""
    path = _ns_path(netns)
    if not os.path.exists(path):
        raise ProbeError(f"namespace {netns} does not exist")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs or exits
        try:
            fd = os.open(path, os.O_RDONLY)
            if _libc.setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"cannot enter namespace {netns}")
            # a private mount tree with a /sys that shows the namespace's own interfaces
            if _libc.unshare(_CLONE_NEWNS) == 0:
                _libc.mount(b"none", b"/", None, _MS_SLAVE | _MS_REC, None)
                if _libc.umount2(b"/sys", _MNT_DETACH) == 0:
                    _libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None)
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"vnet exec: {argv[0]}: {exc.strerror or exc}\n".encode())
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
