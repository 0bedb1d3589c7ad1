"""`python -m tests.fake_cli ARGS...`: the real command line, with the fake trial process.

Every search and worker it starts uses a real TrialRunner whose trial process trains nothing
(tests.fakes.fake_trial_main; RESNET_NAS_FAKE_EPOCH_SECONDS per epoch): the fault tests kill,
interrupt and resume real processes in a second instead of a minute.
"""

import sys

from resnet_nas import cli
from resnet_nas.engines import common
from tests.fakes import fake_process_runner

if __name__ == "__main__":
    common.TrialRunner = fake_process_runner  # the default runner of every search context
    sys.exit(cli.main(sys.argv[1:]))
