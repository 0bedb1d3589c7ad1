"""A trial process's jobs (resnet_nas.job_runner): a job set up ahead trains as one set up in
its turn, a preparation for another job is dropped, and a failed preparation is reported by
the run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.job_runner import JobRunner
from resnet_nas.jobs import Job
from resnet_nas.nets import cifar_resnet


@pytest.fixture(autouse=True)
def tensorflow_backend():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TensorFlow trainer is what prepares ahead")


def job(width: int = 4, epochs: int = 2, **train) -> Job:
    arch = cifar_resnet(8, widths=(width, width, 2 * width), input_shape=(8, 8, 1),
                        num_classes=10)
    return Job(arch, TrainConfig(epochs=epochs, batch_size=64, **train),
               DataConfig(name="digits", limit_train=128))


def run(runner: JobRunner, j: Job) -> dict:
    return runner.run(j, lambda metrics: True, lambda progress: None)


def curve(out: dict) -> list[float]:
    return [m["train_loss"] for m in out["train"]["history"]]


def test_a_job_set_up_ahead_trains_as_one_set_up_in_its_turn():
    runner = JobRunner()
    in_turn = run(runner, job())
    runner.prepare(job())
    ahead = run(runner, job())
    assert in_turn["ahead_seconds"] is None and in_turn["train"]["ahead"] is False
    assert ahead["ahead_seconds"] > ahead["train"]["compile_seconds"] > 0
    assert ahead["train"]["ahead"] is True
    assert curve(ahead) == curve(in_turn)  # the same training, to the bit
    assert ahead["train"]["train_seconds"] < in_turn["train"]["train_seconds"]


def test_a_preparation_for_another_job_is_dropped():
    runner = JobRunner()
    runner.prepare(job(width=2))
    out = run(runner, job(width=4, epochs=1))
    assert out["ahead_seconds"] is None and np.isfinite(curve(out)).all()


def test_a_failed_preparation_is_reported_by_the_run():
    runner = JobRunner()
    bad = job(precision="mixed_float16", trainer="jax")  # a trainer TensorFlow has not
    runner.prepare(bad)  # quietly: the process serves on
    with pytest.raises(ValueError, match="'jax' needs the JAX backend"):
        run(runner, bad)
    assert run(runner, replace(bad, train=TrainConfig(epochs=1, batch_size=64)))["train"]


def test_a_job_on_photos_reports_its_skipped_images_and_normalisation(tmp_path):
    """A streamed data set with one unreadable photo among 120: the job trains, counts it,
    names it (its process's warnings go nowhere), and returns the model's normalisation."""
    from tests.data.helpers import make_photo_folder

    root = make_photo_folder(tmp_path / "p", classes=("a", "b"), n_train=60, n_test=2)
    (root / "train" / "b" / "007.jpg").write_bytes(b"\xff\xd8 truncated")
    data = DataConfig(name="folder", path=str(root), cache="none", validation_split=0.25,
                      cache_dir=str(tmp_path / "cache"))
    arch = cifar_resnet(8, widths=(4, 4, 8), input_shape=(16, 16, 3), num_classes=2)
    job = Job(arch=arch, train=TrainConfig(epochs=1, batch_size=16), data=data,
              evaluate_test=True)
    with pytest.warns(UserWarning, match="b/007.jpg"):
        out = JobRunner().run(job, lambda m: True, lambda p: None)
    assert out["skipped_images"] == 1 and "b/007.jpg" in out["skipped_names"][0]
    assert out["normalization"] == {"mean": [127.5] * 3, "std": [127.5] * 3}
    assert 0.0 <= out["test_accuracy"] <= 1.0
