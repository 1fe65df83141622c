"""The `xietong` command: Django's manage.py plus `demo`, `serve` and `worker`."""

import os
import sys

INTRO = """xietong — collaborative commerce (ERP + CRM + SCM on one platform)

Usage: xietong <command> [options]     (xietong help <command> for its options)

Main commands:
  demo      migrate, load demo data (--seed N --size small|medium|large), start web + worker
  serve     run the web server [ADDRPORT] (--with-worker starts the job worker too)
  worker    run background jobs (--batch: process what is queued and exit)
  mrp       plan CSV files with the MRP engine (xietong help mrp; columns in docs/mrp-csv.md)
  migrate   apply database migrations (SQLite under var/ or DATABASE_URL=postgres://…)
  compile_locales   compile the translation catalogues

All Django management commands follow.
"""


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    argv[0] = "xietong"
    if len(argv) == 1 or argv[1] in {"-h", "--help", "help"} and len(argv) == 2:
        print(INTRO)
        argv = ["xietong", "help"]
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
