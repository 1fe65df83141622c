"""`xietong demo`: migrate, load the demo data, start the worker and the web server."""

from __future__ import annotations

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from xietong.core.models import Company
from xietong.demo.context import DEMO_PASSWORD, SIZES


class Command(BaseCommand):
    help = (
        "Set up the demo: apply migrations, generate demo data (deterministic: --seed, --size), "
        "then start the background worker and the web server on 127.0.0.1:8000 and print one "
        "login per role. With --no-serve it only loads the data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--size", choices=list(SIZES), default="small", help="data volume")
        parser.add_argument("--reset", action="store_true", help="delete the SQLite database first")
        parser.add_argument("--no-serve", action="store_true", help="load data and exit")
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="where the server listens")

    def handle(self, *args: object, **options: object) -> None:
        from django.conf import settings
        from django.db import connection

        if options["reset"]:
            if connection.vendor != "sqlite":
                raise CommandError("--reset only deletes the embedded SQLite database.")
            connection.close()
            for suffix in ("", "-wal", "-shm"):
                path = f"{settings.DATABASES['default']['NAME']}{suffix}"
                import os

                if os.path.exists(path):
                    os.remove(path)
        call_command("migrate", interactive=False, verbosity=0)
        if Company.objects.exists():
            self.stdout.write("Demo data already present (use --reset to start again).")
        else:
            from xietong.demo.steps import generate

            started = time.monotonic()
            ctx = generate(seed=int(options["seed"]), size=str(options["size"]))
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"Demo data ({options['size']}, seed {options['seed']}) in {elapsed:.1f} s: "
                + "; ".join(ctx.log)
            )
        if options["no_serve"]:
            return
        self.stdout.write(
            self.style.SUCCESS(f"\nxietong is running at http://{options['addrport']}/")
        )
        self.stdout.write(
            f"Log in with any of these users; the password of each is: {DEMO_PASSWORD}"
        )
        from xietong.core.roles import ROLE_LABELS

        for code, label in ROLE_LABELS.items():
            self.stdout.write(f"  {code:<16} {label}")
        self.stdout.write("Press Ctrl+C to stop.\n")
        call_command("serve", addrport=options["addrport"], with_worker=True)
