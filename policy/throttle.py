"""When a login may be tried again after failures: per login and source network, and per network."""

from __future__ import annotations

import ipaddress

EVERY_LOGIN = "*"  # the row that counts a network's failures across logins (password spraying)


def network_of(remote_addr: str) -> str:
    """The source network a failure counts against: a /24 for IPv4, a /64 for IPv6."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return "unknown"
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def delay_after(failures: int, *, free: int, cap: float, first: float = 0.25) -> float:
    """No wait for the first `free` failures, then doubling from `first` seconds up to `cap`."""
    if failures < free:
        return 0.0
    delay: float = first * 2 ** (failures - free)  # int ** int is typed Any (a negative power is a float)
    return min(cap, delay)
