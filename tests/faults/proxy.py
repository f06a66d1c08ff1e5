"""A TCP proxy that can "restart" the server behind it: cut every connection and refuse
new ones for a while, as clients see a broker or database restart.

Why a proxy and not a real restart: the machine's RabbitMQ and PostgreSQL are shared by
every test run on it (and by other people's), so a test must not stop them. Queues are
durable and messages persistent (broker.py), so what a real restart would add (state
reloaded from disk) is RabbitMQ's and PostgreSQL's own business.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from types import TracebackType


class RestartingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._down_until = 0.0
        self._closed = False
        self.cuts = 0

    def __enter__(self) -> RestartingProxy:
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._closed = True
        self._listener.close()
        self._cut_all()

    def restart(self, down_seconds: float) -> None:
        """Drop every connection now and refuse new ones for `down_seconds`."""
        with self._lock:
            self._down_until = time.monotonic() + down_seconds
            self.cuts += 1
        self._cut_all()

    def _cut_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for end in (a, b):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    end.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                client.close()  # "connection reset": the server is restarting
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    peers[end].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for end in (a, b):
                with contextlib.suppress(OSError):
                    end.close()
