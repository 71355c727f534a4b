"""``python -m gradgen``: the same command line as the ``gradgen`` console script."""

import sys

from gradgen.cli import main

if __name__ == "__main__":
    sys.exit(main())
