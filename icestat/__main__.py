"""Allow ``python -m icestat``."""

import sys

from icestat.cli import command

if __name__ == "__main__":
    sys.exit(command())
