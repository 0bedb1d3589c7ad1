"""What travels between a search and its trial process: a job, and what came back of it.

Plain frozen data (typed configs), pickled over the pipe as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_nas.config import DataConfig, TrainConfig
from resnet_nas.nets import Architecture
from resnet_nas.train.metrics import TrainResult


@dataclass(frozen=True)
class Job:
    """One trial for a trial process (typed configs, pickled over the pipe as they are).

    Attributes:
      arch: the architecture to build.
      train: how to train it.
      data: which data to train it on.
      evaluate_test: also evaluate on the test split (final training of an exported config).
      save_model: path to save the trained model as .keras, or None.
      data_seed: seeds the train/validation split instead of `train.seed` (None: train.seed);
        a benchmark trains one architecture with several training seeds on one split.
    """

    arch: Architecture
    train: TrainConfig
    data: DataConfig
    evaluate_test: bool = False
    save_model: str | None = None
    data_seed: int | None = None


@dataclass(frozen=True)
class JobResult:
    """What came back from a job.

    Attributes:
      ok: the job ran to its end (a diverged or pruned training is still ok).
      train: the training result (None when not ok).
      error: first lines of the error when not ok.
      test_accuracy / test_loss: with Job.evaluate_test.
      count_params: model.count_params() of the trained model.
      ahead_seconds: how long the trial process set the job up ahead (model build and
        warm-up, while another trial ran), or None: not part of the job's wall time.
      skipped_images: unreadable images its data splits left out.
      skipped_names: the first of them ('name: why'; a trial process's warnings go nowhere).
      val_images: validation images its accuracies were measured on.
      normalization: the model's input normalisation ({'mean': [...], 'std': [...]}).
    """

    ok: bool
    train: TrainResult | None = None
    error: str = ""
    worker_rss_mb: float = 0.0
    worker_pid: int = 0
    test_accuracy: float | None = None
    test_loss: float | None = None
    count_params: int | None = None
    ahead_seconds: float | None = None
    skipped_images: int | None = None
    skipped_names: tuple[str, ...] = ()
    val_images: int | None = None
    normalization: dict[str, list[float]] | None = None
