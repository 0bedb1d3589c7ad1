"""`python -m resnet_nas.report RUN_DIR ...` (same as `python -m resnet_nas report ...`)."""

import sys

from resnet_nas.report.cli import main

sys.exit(main())
