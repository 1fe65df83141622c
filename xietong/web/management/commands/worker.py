"""`xietong worker`: run background jobs (django-tasks database queue) until stopped."""

from __future__ import annotations

import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from xietong.core.jobs import periodic_run


def _periodic_loop(interval: float, stop: threading.Event) -> None:
    """Run the periodic functions (workflow timers…) every `interval` seconds beside the queue."""
    while not stop.wait(interval):
        close_old_connections()
        periodic_run()


class Command(BaseCommand):
    help = "Run the background job worker; --batch processes what is queued and exits."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="process queued jobs, then exit")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args: object, **options: object) -> None:
        interval = float(options["interval"])  # type: ignore[arg-type]
        arguments = ["--interval", str(interval), "--no-startup-delay"]
        periodic_run()
        if options["batch"]:
            arguments.append("--batch")
            call_command("db_worker", *arguments)
            return
        stop = threading.Event()
        thread = threading.Thread(target=_periodic_loop, args=(interval, stop), daemon=True)
        thread.start()
        try:
            call_command("db_worker", *arguments)
        finally:
            stop.set()
