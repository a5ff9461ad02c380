"""Per-interface sysctls people set on lab interfaces: `ipv6: false` (disable_ipv6),
`forwarding` (IPv4 and IPv6), `rp_filter` and `accept_ra`, each a file under
/proc/sys/net/{ipv4,ipv6}/conf/IFNAME/ of the interface's namespace. Omitted, the kernel's
value stays and is neither written nor compared. All change in place; a link that is
(re)created gets them right after its creation. Pure data; the door reads and writes the
files (door/netlink.py), the fields are in sysctl_fields.py.
"""

from __future__ import annotations

from typing import Any

#: option -> the files it is written to, each with how the file's words read the value
SYSCTLS: dict[str, tuple[str, ...]] = {
    "ipv6": ("net/ipv6/conf/{}/disable_ipv6",),
    "forwarding": ("net/ipv4/conf/{}/forwarding", "net/ipv6/conf/{}/forwarding"),
    "rp_filter": ("net/ipv4/conf/{}/rp_filter",),
    "accept_ra": ("net/ipv6/conf/{}/accept_ra",),
}


#: what a namespace's `forwarding: true` writes (a router namespace), IPv4 and IPv6
NAMESPACE_FORWARDING = ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding")


def sysctl_text(option: str, value: Any) -> str:
    """What option `option` with the file's `value` writes to each of its files."""
    if option == "ipv6":
        return "0" if value else "1"  # the file says whether IPv6 is *disabled*
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(int(value))


def sysctl_word(option: str, text: str) -> Any:
    """A sysctl file's text in the file's words (`ipv6` says the opposite of disable_ipv6)."""
    if option == "ipv6":
        return text == "0"
    if option == "forwarding":
        return text == "1"
    return int(text) if text.lstrip("-").isdigit() else text


def live_sysctls(read: Any, ifname: str) -> dict[str, Any]:
    """The sysctls of interface `ifname` that differ from what a link made now in its
    namespace would get (the namespace's conf/default files), in the file's words; `read`
    reads one file (NetnsState.sysctl). An option whose files cannot be read, or whose
    files disagree (forwarding on for IPv4 and off for IPv6, which the file cannot say), is
    left out."""
    out: dict[str, Any] = {}
    for option, paths in SYSCTLS.items():
        texts = [read(path.format(ifname)) for path in paths]
        if None in texts or len(set(texts)) != 1 or \
                texts == [read(path.format("default")) for path in paths]:
            continue
        out[option] = sysctl_word(option, texts[0])
    return out


def declared_sysctls(end: Any) -> dict[str, Any]:
    """The sysctls an interface end declares, in the file's words."""
    fields_set: set[str] = getattr(end, "model_fields_set", set())
    if fields_set.isdisjoint(SYSCTLS):  # most ends: planning asks each of them
        return {}
    return {name: getattr(end, name) for name in SYSCTLS
            if name in fields_set and getattr(end, name) is not None}


def sysctl_writes(ifname: str, declared: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """path -> (option, text) of every file the declared sysctls of `ifname` write."""
    return {path.format(ifname): (option, sysctl_text(option, value))
            for option, value in declared.items() for path in SYSCTLS[option]}
