"""``python -m codat_nb``: the ``codat-nb`` command line (``codat_nb.cli``)."""

import sys

from codat_nb.cli import main

if __name__ == "__main__":
    sys.exit(main())
