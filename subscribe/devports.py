"""Ports for `make run`: each part's port is checked before anything starts.

A port left at its default and found taken is replaced by a free one (the newcomer's
case: another program already sits on 5001). A port the user chose and found taken
stops `make run` with one line naming the setting to change: silently moving a port
someone set on purpose would break whatever points at it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

HOST = "127.0.0.1"
SEARCH_AHEAD = 50  # free ports are looked for just above the default, then anywhere


class PortTaken(Exception):
    """A port the user set is in use; str() is the one-line message to print."""


@dataclass(frozen=True)
class PortChoice:
    setting: str  # the environment variable, e.g. SUBSCRIBE_DEMO_PORT
    what: str  # what listens there, for messages
    default: int


@dataclass(frozen=True)
class Resolved:
    setting: str
    port: int
    moved_from: int | None  # the taken default, when a free port replaced it

    def note(self, what: str) -> str | None:
        if self.moved_from is None:
            return None
        return (
            f"port {self.moved_from} is in use, so the {what} uses {self.port} "
            f"(set {self.setting} to choose)"
        )


def is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port and we may bind it (no SO_REUSEADDR, so a
    port still held by a listening socket counts as taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port_near(start: int, avoid: set[int]) -> int:
    for port in range(start + 1, start + 1 + SEARCH_AHEAD):
        if port not in avoid and port < 65536 and is_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))  # any free port the system offers
        return sock.getsockname()[1]


def resolve(choices: list[PortChoice], environ=os.environ) -> list[Resolved]:
    """Each choice's port: the set value, else the default, else a free one near it.

    Writes every chosen port back into `environ`, so the app's config and every child
    process agree. Raises PortTaken (one line, naming the setting) when a port set in
    `environ` is in use, or two settings name the same port."""
    taken: set[int] = set()
    # A moved port never lands on another part's default (the next part would move too).
    defaults = {choice.default for choice in choices}
    resolved = []
    for choice in choices:
        raw = environ.get(choice.setting, "").strip()
        if raw:
            try:
                port = int(raw)
            except ValueError:
                raise PortTaken(f"{choice.setting}={raw!r} is not a port number") from None
            if port in taken or not is_free(port):
                raise PortTaken(
                    f"port {port} for the {choice.what} is already in use: set "
                    f"{choice.setting} to a free port (端口 {port} 已被占用：请设置 "
                    f"{choice.setting}=其他端口)"
                )
            resolved.append(Resolved(choice.setting, port, None))
        elif choice.default in taken or not is_free(choice.default):
            port = _free_port_near(choice.default, taken | defaults)
            resolved.append(Resolved(choice.setting, port, choice.default))
        else:
            port = choice.default
            resolved.append(Resolved(choice.setting, port, None))
        taken.add(port)
        environ[choice.setting] = str(port)
    return resolved
