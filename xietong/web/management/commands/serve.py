"""`xietong serve`: the web server (and, with --with-worker, the background worker beside it)."""

from __future__ import annotations

import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


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
                "runserver", str(options["addrport"]), use_reloader=False, use_threading=True
            )
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
