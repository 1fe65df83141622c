"""The `xietong` command: Django's manage.py plus `demo`, `serve` and `worker` (management commands)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    argv[0] = "xietong"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
