"""Relays between a Unix socket and a loopback TCP port: how kernels without a network reach the shared
Spark server.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading


def _spark_relay(port: int, unix_path: str) -> None:
    """Forward 127.0.0.1:``port`` inside the sandbox's network namespace to the Spark server's Unix socket."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(unix_path)
            except OSError:
                conn.close()
                continue
            pump(conn, upstream)

    threading.Thread(target=serve, daemon=True, name="labkit-spark-relay").start()


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways between two connected sockets until either side closes."""

    def one_way(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    for src, dst in ((a, b), (b, a)):
        threading.Thread(target=one_way, args=(src, dst), daemon=True, name="labkit-pump").start()


def _unix_to_tcp_relay(unix_path: str, port: int) -> None:  # pragma: no cover - a forked process
    """Serve ``unix_path`` (mode 666) and forward each connection to 127.0.0.1:``port`` in this namespace."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(unix_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(unix_path)
    os.chmod(unix_path, 0o666)
    server.listen(64)
    while True:
        conn, _ = server.accept()
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            upstream.connect(("127.0.0.1", port))
        except OSError:
            conn.close()
            continue
        pump(conn, upstream)


