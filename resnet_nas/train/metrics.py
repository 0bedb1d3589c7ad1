"""Result types of the trainers: one epoch's metrics, one training run's result.

Plain data (no Keras import): the search process reads them back from the trial process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

@dataclass
class EpochMetrics:
    """Metrics of one epoch.

    Attributes:
      epoch: 1-based epoch number.
      train_loss: mean over the epoch's steps of the optimised objective (cross-entropy with
        label smoothing, plus the model's L2 penalty unless the optimizer is AdamW).
      train_accuracy: accuracy on the augmented training batches, in training mode.
      val_loss: plain cross-entropy (no smoothing, no L2) on the validation split.
      val_accuracy: accuracy on the validation split.
      seconds: wall time of the epoch, training and validation together.
      images_per_second: training images per second of training time (validation excluded).
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float
    images_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: A long epoch reports its progress this often (StepProgress).
STEP_REPORT_SECONDS = 5.0


@dataclass(frozen=True)
class StepProgress:
    """Progress inside a long epoch (reported every few seconds, never per step).

    Attributes:
      epoch: 1-based epoch number.
      step: training steps done in this epoch.
      steps: training steps of the epoch.
      seconds: wall time of the epoch so far.
      images_per_second: training throughput of the epoch so far.
    """

    epoch: int
    step: int
    steps: int
    seconds: float
    images_per_second: float

    @classmethod
    def after(cls, epoch: int, step: int, steps: int, batch_size: int,
              seconds: float) -> "StepProgress":
        """The progress of `step` steps of `batch_size` images done in `seconds`."""
        return cls(epoch=epoch, step=step, steps=steps, seconds=seconds,
                   images_per_second=step * batch_size / max(seconds, 1e-9))

    def describe(self) -> str:
        """'epoch 1: step 120/390, 850 img/s, 5:12 left' (the time left once it is known)."""
        eta = self.eta_seconds
        left = f", {int(eta // 60)}:{int(eta % 60):02d} left" if eta == eta else ""
        return (f"epoch {self.epoch}: step {self.step}/{self.steps}, "
                f"{self.images_per_second:,.0f} img/s{left}")

    @property
    def eta_seconds(self) -> float:
        """Seconds left in the epoch's training at its pace so far (validation excluded)."""
        if self.step <= 0:
            return float("nan")
        return self.seconds / self.step * (self.steps - self.step)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """Outcome of one `train_model` call.

    Attributes:
      history: one EpochMetrics per epoch run (a diverged epoch is included).
      epochs_run: len(history).
      stopped_early: on_epoch returned False (pruned).
      diverged: the training loss became NaN or infinite.
      reason: 'completed', 'stopped by on_epoch at epoch K' or
        'diverged: train loss nan at epoch K'.
      train_seconds: wall time of the whole training, the same for every trainer: compile,
        training steps and per-epoch validation (what the trial cost once its model was built).
      compile_seconds: the part of train_seconds spent tracing and compiling the train and
        eval functions (JAX trainer: its ahead-of-time compile; tf and fit: how much longer
        the first train step and the first validation batch took than steady ones); None where
        it cannot be measured (an epoch of a single step).
      images_per_second: training throughput after compilation (mean over epochs 2..N, or
        epoch 1 when only one epoch ran).
      eval_seconds: the part of train_seconds spent on validation (after its compile).
      ahead: the compile was done ahead, before the job ran (while the trial process waited
        for it): compile_seconds is then not part of train_seconds.
      trainer: 'jax', 'tf' or 'fit'.
      backend: the active Keras backend.
      device: what ran it, e.g. 'NVIDIA H100 80GB HBM3' or 'cpu'.
    """

    history: list[EpochMetrics]
    epochs_run: int
    stopped_early: bool
    diverged: bool
    reason: str
    train_seconds: float
    compile_seconds: float | None
    images_per_second: float
    trainer: str
    backend: str
    device: str
    eval_seconds: float | None = None
    ahead: bool = False

    @property
    def final(self) -> EpochMetrics | None:
        return self.history[-1] if self.history else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainResult":
        return cls(**{**data, "history": [EpochMetrics(**m) for m in data["history"]]})


def steady_images_per_second(history: Sequence[EpochMetrics]) -> float:
    """Mean training throughput over epochs 2..N (epoch 1 alone when that is all there is)."""
    if not history:
        return float("nan")
    rows = history[1:] if len(history) > 1 else history
    return float(np.mean([m.images_per_second for m in rows]))


def finished_reason(epoch: int, train_loss: float) -> str | None:
    """The divergence reason when train_loss is not finite, else None."""
    if math.isfinite(train_loss):
        return None
    return f"diverged: train loss {train_loss} at epoch {epoch}"


@dataclass(frozen=True)
class Stop:
    """Why a training stops after an epoch: it diverged, or on_epoch said so (pruned)."""

    reason: str
    diverged: bool


def outcome(stop: Stop | None) -> dict[str, Any]:
    """TrainResult's stopped_early, diverged and reason for how a training ended."""
    if stop is None:
        return {"stopped_early": False, "diverged": False, "reason": "completed"}
    return {"stopped_early": not stop.diverged, "diverged": stop.diverged,
            "reason": stop.reason}


def stop_after(metrics: EpochMetrics, on_epoch: Callable[[EpochMetrics], bool] | None
               ) -> Stop | None:
    """Every trainer's end of an epoch: a diverged epoch stops training (and on_epoch never
    sees it); else on_epoch returning False stops it. None: train on."""
    why = finished_reason(metrics.epoch, metrics.train_loss)
    if why is not None:
        return Stop(why, diverged=True)
    if on_epoch is not None and on_epoch(metrics) is False:
        return Stop(f"stopped by on_epoch at epoch {metrics.epoch}", diverged=False)
    return None


def first_call_excess(seconds: list[float]) -> float | None:
    """How much longer the first call took than a steady one (its trace and compile); None
    with fewer than two calls to compare."""
    if len(seconds) < 2:
        return None
    return max(0.0, seconds[0] - float(np.median(seconds[1:])))
