"""A pair of trial runners: a job runs where it was prepared, and the next one is prepared
in the runner that is not about to run."""

from __future__ import annotations

from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.jobs import Job, JobResult
from resnet_nas.lookahead import LookaheadRunner
from resnet_nas.nets import cifar_resnet
from resnet_nas.trial_process import TrialRunnerLike


class Recorder(TrialRunnerLike):
    """Records what it is asked, under its own name."""

    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    def run(self, job, on_epoch=None, on_step=None, while_running=None):
        self.log.append((self.name, "run", job.train.seed))
        if while_running is not None:
            while_running()
        return JobResult(True)

    def prepare(self, job, after=None):
        self.log.append((self.name, "prepare", job.train.seed))

    def start(self):
        self.log.append((self.name, "start"))

    def warm(self, data, seed, input_shape=None):
        self.log.append((self.name, "warm"))

    def close(self):
        self.log.append((self.name, "close"))


def job(n: int) -> Job:
    return Job(cifar_resnet(8, input_shape=(8, 8, 1), num_classes=10), TrainConfig(seed=n),
               DataConfig(name="digits"))


def pair():
    log, names = [], iter("AB")
    return LookaheadRunner(lambda: Recorder(next(names), log)), log


def test_the_next_job_is_prepared_beside_the_running_one_and_runs_where_prepared():
    runner, log = pair()
    runner.start()
    runner.warm(DataConfig(name="digits"), 0)
    for n in range(4):  # as the search does: the next one set up, then the current one run
        runner.prepare(job(n + 1), after=job(n))
        runner.run(job(n))
    runner.close()
    assert log[:4] == [("A", "start"), ("B", "start"), ("A", "warm"), ("B", "warm")]
    assert log[4:12] == [("B", "prepare", 1), ("A", "run", 0), ("A", "prepare", 2),
                         ("B", "run", 1), ("B", "prepare", 3), ("A", "run", 2),
                         ("A", "prepare", 4), ("B", "run", 3)]
    assert log[12:] == [("A", "close"), ("B", "close")]


def test_a_job_nobody_prepared_runs_where_no_preparation_waits():
    runner, log = pair()
    runner.prepare(job(1), after=job(0))  # B holds job 1
    runner.run(job(0))  # A
    runner.run(job(5))  # job 1 was dropped (say, a duplicate): A, which holds nothing
    runner.run(job(1))  # still where it was prepared
    assert [entry for entry in log if entry[1] == "run"] == [("A", "run", 0), ("A", "run", 5),
                                                             ("B", "run", 1)]


def test_the_next_job_sampled_while_one_runs_is_prepared_beside_it():
    runner, log = pair()
    for n in range(3):  # as the search does: the next one set up once the current one runs
        runner.run(job(n), while_running=lambda n=n: runner.prepare(job(n + 1), after=job(n)))
    assert log == [("A", "run", 0), ("B", "prepare", 1), ("B", "run", 1), ("A", "prepare", 2),
                   ("A", "run", 2), ("B", "prepare", 3)]
