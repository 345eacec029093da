"""Whether the process that holds a lock (`host:pid`) is still there: one answer for the engine and for people."""

from __future__ import annotations

import os
import socket


def process_owner() -> str:
    """This process, as a lock's owner: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool | None:
    """True while the process `host:pid` runs; False once it is gone; None when it is on another host (this one
    cannot tell). A process that was killed but not yet reaped by its parent (a zombie) is gone: it will never
    renew its lease nor write again."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return not _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers kill(pid, 0); Linux shows it as Z."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return False
