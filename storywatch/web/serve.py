"""Serving the app: uvicorn on a thread, for `storywatch web` and for the daemon.

One process, no workers: the pages are light, and the daemon's memory goal (idle under
150 MB with the web app on) leaves no room for worker processes.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


def split_listen(listen: str) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 in brackets) -> (host, port); the config validated the form."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass
class WebServer:
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def start_web_server(app: FastAPI, listen: str, *, started_timeout: float = 30.0) -> WebServer:
    """Serve `app` on HOST:PORT from a daemon thread; returns once it listens, or raises
    OSError when it could not bind (the port taken, an address not ours)."""
    host, port = split_listen(listen)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            proxy_headers=True, server_header=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="storywatch-web", daemon=True)
    thread.start()
    ready = threading.Event()

    def _watch() -> None:
        while thread.is_alive() and not server.started:
            thread.join(0.05)
        ready.set()

    threading.Thread(target=_watch, daemon=True).start()
    ready.wait(started_timeout)
    if not server.started:
        server.should_exit = True
        raise OSError(f"the web app could not listen on {listen} (is the port taken?)")
    log.info("web app on http://%s", listen)
    return WebServer(server, thread)
