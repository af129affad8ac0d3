"""The referee's channel: signed reports from a graded kernel to the grader, one datagram per test cell.

The grader binds a Unix datagram socket that only root may write to; the kernel connects to it while it
is still root, before it becomes the learner's user and before any learner code runs, and keeps the only
connected end. A report is JSON signed with HMAC-SHA256 under a key only the grader and the kernel's
referee hold, so a forged or garbled datagram (the learner's code can write to any of its process's file
descriptors) is told apart from the referee's own.

>>> key = b"k" * 32
>>> verify(key, sign(key, {"seq": 1}))
{'seq': 1}
>>> verify(key, sign(b"x" * 32, {"seq": 1})) is None
True
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
from pathlib import Path

MAX_DATAGRAM = 60_000  # under the default socket buffer: a report is never split or refused
_MAC = 32


def sign(key: bytes, report: dict) -> bytes:
    """``report`` as one signed datagram."""
    body = json.dumps(report, sort_keys=True, ensure_ascii=True).encode()
    return hmac.new(key, body, hashlib.sha256).digest() + body


def verify(key: bytes, datagram: bytes) -> dict | None:
    """The report inside ``datagram`` if ``key`` signed it, else ``None``."""
    mac, body = datagram[:_MAC], datagram[_MAC:]
    if len(mac) != _MAC or not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        return None
    try:
        report = json.loads(body)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def fingerprint(source: str) -> str:
    """What a report says it ran: the SHA-256 of the test cell's source."""
    return hashlib.sha256(source.encode()).hexdigest()


class Inbox:
    """The grader's end of one kernel's channel."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path, self.key = Path(path), key
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        os.chmod(self.path, 0o600)  # root only: the kernel connects before it drops root
        self.sock.setblocking(False)

    def drain(self) -> tuple[list[dict], int]:
        """Every report waiting, and how many datagrams were not signed by the referee."""
        reports, forged = [], 0
        while True:
            try:
                datagram = self.sock.recv(MAX_DATAGRAM + 1024)
            except (BlockingIOError, InterruptedError):
                return reports, forged
            report = verify(self.key, datagram)
            if report is None:
                forged += 1
            else:
                reports.append(report)

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
