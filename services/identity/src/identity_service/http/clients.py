"""Which client address a login attempt counts against."""

from __future__ import annotations

import ipaddress
from typing import Any

from litestar import Request


class TrustedProxies:
    """The proxies of FORWARDED_ALLOW_IPS (comma-separated addresses or networks, `*` for any).

    uvicorn already replaced the peer's address with the client named in X-Forwarded-For
    when a trusted proxy sent it. A peer that is still a trusted proxy named nobody (the
    portal, which serves many people from one address): it is not counted as a client.
    With `*` every peer may name its client, and every address is counted.
    """

    def __init__(self, spec: str) -> None:
        items = [item.strip() for item in spec.split(",") if item.strip()]
        self.any = "*" in items
        self.networks = []
        for item in items:
            if item != "*":
                try:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    continue  # a unix socket path or a name: uvicorn's business, not an address

    def client_address(self, request: Request[Any, Any, Any]) -> str | None:
        host = request.client.host if request.client else None
        if not host or self.any:
            return host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host
        return None if any(address in network for network in self.networks) else host
