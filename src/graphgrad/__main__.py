"""``python -m graphgrad ...`` runs the ``graphgrad`` command."""

from __future__ import annotations

import sys

from graphgrad.cli import main

if __name__ == "__main__":
    sys.exit(main())
