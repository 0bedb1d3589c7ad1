"""What a trial process does with its jobs: opens their data set (in memory or streamed:
resnet_nas.input), sets a job's training up (ahead of it, when asked), runs it and releases
what it left.

Setting up is building the model and its trainer: for the TensorFlow trainer that includes
its warm-up (trace and first run of the step and the evaluation: a new architecture's whole
compile). A process that is asked to prepare the job it will run next does that while the
search waits on another trial process, and then trains at once (resnet_nas.lookahead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet_nas.config import DataConfig
from resnet_nas.jobs import Job
from resnet_nas.trial_startup import rss_mb, settle


@dataclass
class Prepared:
    """A job's training, set up: its model and trainer, and the seconds that took."""

    job: Job
    model: Any
    training: Any
    seconds: float


class JobRunner:
    """The trial process's state between messages: its data set and a prepared job."""

    def __init__(self) -> None:
        self._inputs: dict[Any, Any] = {}
        self._prepared: Prepared | None = None

    def input(self, data_cfg: DataConfig, seed: int,
              input_shape: tuple[int, int, int] | None = None) -> Any:
        """The process's one open data set (opened again only for another config, seed or
        input shape): resnet_nas.input.open_input."""
        from resnet_nas.input import open_input

        key = (data_cfg, seed, None if input_shape is None else tuple(input_shape))
        if key not in self._inputs:
            self._inputs.clear()
            self._inputs[key] = open_input(data_cfg, seed, key[2])
        return self._inputs[key]

    def data_of(self, job: Job) -> Any:
        """`job`'s data set at its input shape: its split seeded by data_seed, else by its
        training seed."""
        return self.input(job.data, job.train.seed if job.data_seed is None
                          else job.data_seed, tuple(job.arch.input_shape))

    def warm(self, data_cfg: DataConfig, seed: int,
             input_shape: tuple[int, int, int] | None = None) -> None:
        self.input(data_cfg, seed, input_shape)
        settle()  # the data set stays for every job, as the imports do

    def _set_up(self, job: Job) -> Prepared:
        from resnet_nas.nets.build import build_model
        from resnet_nas.train import precision_policy, prepare_training
        from resnet_nas.train.runtime import seed_all

        t0 = time.perf_counter()
        data = self.data_of(job)
        seed_all(job.train.seed)
        with precision_policy(job.train.precision):
            model = build_model(job.arch, job.train.resnet_config(),
                                normalization=data.normalization)
        training = prepare_training(model, data, job.train)
        return Prepared(job, model, training, time.perf_counter() - t0)

    def prepare(self, job: Job) -> None:
        """Sets `job` up now, warm-up included, for a coming "run" of the same job; an error
        is left to that run, which sets it up again and reports it."""
        self.drop()
        try:
            prepared = self._set_up(job)
            prepared.seconds += prepared.training.warm_up()
        except Exception:  # noqa: BLE001 - the run reports it
            self.drop()
            return
        self._prepared = prepared

    def drop(self) -> None:
        """Forgets a prepared job (another job came, or a newer preparation)."""
        if self._prepared is not None:
            from resnet_nas.train.runtime import release_memory

            self._prepared = None
            release_memory()

    def run(self, job: Job, on_epoch: Callable[[dict[str, Any]], bool],
            on_step: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Trains `job` (set up ahead, or now) and releases what it left; the result dict."""
        from resnet_nas.nets.build import build_model
        from resnet_nas.train import evaluate, precision_policy
        from resnet_nas.train.runtime import release_memory

        if self._prepared is not None and self._prepared.job == job:
            prepared, self._prepared = self._prepared, None
            ahead: float | None = prepared.seconds
        else:
            # The last job released its memory when it ended (and a failed job's process is
            # replaced): one release per trial, not two; but a preparation for another job
            # (it became a duplicate, or the search ended) goes first.
            self.drop()
            prepared, ahead = self._set_up(job), None
        model = prepared.model
        result = prepared.training.run(lambda m: on_epoch(m.to_dict()),
                                       lambda p: on_step(p.to_dict()))
        data = self.data_of(job)
        out: dict[str, Any] = {"train": result.to_dict(), "ahead_seconds": ahead,
                               "normalization": data.normalization.to_dict()}
        splits = ("train", "val")
        if job.evaluate_test and not result.diverged:
            loss, acc = evaluate(model, data.eval_feed("test", job.train))
            out["test_loss"], out["test_accuracy"] = float(loss), float(acc)
            splits += ("test",)
        out["skipped_images"] = data.skipped(splits)
        out["val_images"] = data.eval_feed("val", job.train).size - data.skipped(("val",))
        out["skipped_names"] = data.skipped_names(splits)
        if job.save_model:
            # Save an inference copy: the compiled optimizer (with our LR schedule) is training
            # state, and would make the file unloadable without this package's registrations.
            # It takes raw pixels: its first layer normalises them.
            with precision_policy(job.train.precision):
                clean = build_model(job.arch, job.train.resnet_config(), name=model.name,
                                    normalization=data.normalization)
            clean.set_weights(model.get_weights())
            clean.save(job.save_model)
        out["count_params"] = int(model.count_params())
        del model, prepared
        release_memory()
        out["worker_rss_mb"] = rss_mb()
        return out
