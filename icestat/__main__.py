"""Allow ``python -m icestat``."""

import sys

from icestat.cli import main

if __name__ == "__main__":
    sys.exit(main())
