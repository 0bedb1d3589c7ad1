"""Result types of the trainers (resnet_nas.train.metrics)."""

from __future__ import annotations

import math


from resnet_nas.train.metrics import (EpochMetrics, TrainResult, finished_reason,
                                      steady_images_per_second)


def test_result_types_and_summaries():
    rows = [EpochMetrics(i, 1.0, 0.5, 1.0, 0.5, 1.0, ips) for i, ips in ((1, 10.0), (2, 30.0),
                                                                        (3, 50.0))]
    assert steady_images_per_second(rows) == 40.0
    assert steady_images_per_second(rows[:1]) == 10.0
    assert math.isnan(steady_images_per_second([]))
    r = TrainResult(rows, 3, False, False, "completed", 3.0, 1.0, 40.0, "fit", "tensorflow",
                    "cpu")
    assert r.to_dict()["history"][1]["images_per_second"] == 30.0 and r.final is rows[-1]
    assert finished_reason(2, float("nan")) == "diverged: train loss nan at epoch 2"
    assert finished_reason(2, float("inf")) == "diverged: train loss inf at epoch 2"
    assert finished_reason(2, 0.3) is None
