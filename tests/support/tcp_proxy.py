"""A TCP proxy on loopback that a test can cut and restore: the network between a web process
and its database going away, without touching the database server itself.

``cut("refuse")`` drops every open connection and closes each new one at once (a server that
went away); ``cut("stall")`` drops them too but holds new ones open in silence (a host that
no longer answers), which only a client-side timeout ends. ``restore()`` forwards again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal

Mode = Literal["pass", "refuse", "stall"]


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.mode: Mode = "pass"
        self.accepted = 0  # connections accepted so far, whatever the mode
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()

    def cut(self, mode: Mode = "refuse") -> None:
        self.mode = mode
        self._drop_all()

    def restore(self) -> None:
        self.mode = "pass"
        self._drop_all()  # stalled connections end; their clients connect again

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.close()
        self._drop_all()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode == "refuse":
                client.close()
            elif self.mode == "stall":
                self._track(client)
            else:
                self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._track(client, upstream)
        if self.mode != "pass":  # cut while this one was connecting
            self._drop(client, upstream)
            return
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65_536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(src, dst)

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.update(socks)

    def _drop(self, *socks: socket.socket) -> None:
        for sock in socks:
            with self._lock:
                self._open.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv
            with contextlib.suppress(OSError):
                sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            socks = list(self._open)
        self._drop(*socks)
