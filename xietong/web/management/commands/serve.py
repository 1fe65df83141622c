"""`xietong serve`: the web server (and, with --with-worker, the background worker beside it)."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.core.management.commands.runserver import Command as RunserverCommand
from django.core.servers.basehttp import WSGIServer


class NoDelayWSGIServer(WSGIServer):
    """Django's WSGI server with `TCP_NODELAY` on every accepted connection, as production
    servers set it: without it a response's headers and body leave in two segments and the
    second waits for the client's delayed ACK (~40 ms per response on keep-alive connections)."""

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _Runserver(RunserverCommand):
    server_cls = NoDelayWSGIServer


class Command(BaseCommand):
    help = "Run the web server on ADDRPORT (default 127.0.0.1:8000); --with-worker also runs the job worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--with-worker", action="store_true", help="start `xietong worker` too")

    def handle(self, *args: object, **options: object) -> None:
        worker = None
        if options["with_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "xietong.cli", "worker"])  # noqa: S603
        try:
            call_command(
                _Runserver(), str(options["addrport"]), use_reloader=False, use_threading=True
            )
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
