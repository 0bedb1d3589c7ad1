"""`python -m resnet_nas ...`: the command line (resnet_nas.cli), and the `resnet-nas` script's
entry, `run`."""

import gc
import sys

from resnet_nas.cli import main


def run() -> int:
    """The command line's entry (`python -m resnet_nas`, the `resnet-nas` script)."""
    code = main()
    # The process ends here. Its objects (Optuna's, SQLAlchemy's, pandas') need no collection
    # on the way out: Python's final collection walks them after every search, and far less
    # once they are frozen out of it (figures: experiments/RESULTS.md).
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(run())
