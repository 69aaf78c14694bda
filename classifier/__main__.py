"""Entry point: ``python -m classifier evaluate|simulate ...`` (see :mod:`classifier.cli`)."""
import sys

from classifier.cli import main

if __name__ == "__main__":
    sys.exit(main())
