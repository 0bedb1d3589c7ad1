"""Terminal progress of a search: study and per-trial bars plus a live best-so-far line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from resnet_nas.nets import Architecture
from resnet_nas.train.metrics import StepProgress

if TYPE_CHECKING:
    from resnet_nas.records import TrialRecord


def time_split(rec: "TrialRecord") -> str:
    """Where a trained trial's time went: '12.3 s = start-up 3.1 + compile 4.5 + train 3.9 +
    eval 0.8' ('' for a trial that trained nothing; a part that was not measured is left out).
    A trial set up ahead (while the previous one trained) adds what that took, which its wall
    time does not hold: '5.1 s = start-up 0.1 + train 4.3 + eval 0.7 (set up ahead 1.2 s,
    compile 0.9)'.
    """
    wall, total = rec.wall_seconds, rec.train_seconds
    if not wall or total is None:
        return ""
    compile_s, eval_s, ahead = rec.compile_seconds, rec.eval_seconds, rec.ahead_seconds
    inside = compile_s if ahead is None else 0.0  # the compile that train_seconds holds
    parts = [("start-up", max(0.0, wall - total))]
    if ahead is None and compile_s is not None:
        parts.append(("compile", compile_s))
    steps = total - (inside or 0.0) - (eval_s or 0.0)
    parts.append(("train" if inside is not None else "train+compile", max(0.0, steps)))
    if eval_s is not None:
        parts.append(("eval", eval_s))
    line = f"{wall:.1f} s = " + " + ".join(f"{name} {s:.1f}" for name, s in parts)
    if ahead is not None:
        compiled = f", compile {compile_s:.1f}" if compile_s is not None else ""
        line += f" (set up ahead {ahead:.1f} s{compiled})"
    return line


class Progress:
    """Study and per-trial progress bars plus a live best-so-far line (tqdm, on stderr)."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.trial_bar = None
        # the stream of now: a library may redirect sys.stderr later (Keras Tuner's output)
        self.stream = sys.stderr
        if enabled:
            from tqdm.auto import tqdm
            self._tqdm = tqdm
            self.bar = tqdm(total=total, initial=done, desc="study", unit="trial",
                            position=0, dynamic_ncols=True, file=self.stream)

    def trial_start(self, number: int, arch: Architecture, epochs: int) -> None:
        if self.enabled:
            self.trial_bar = self._tqdm(total=epochs, desc=f"trial {number}", unit="epoch",
                                        position=1, leave=False, dynamic_ncols=True,
                                        file=self.stream)
            self.trial_bar.set_postfix_str(arch.describe()[:60])

    def step(self, progress: dict[str, Any]) -> None:
        """Inside a long epoch: where it is, its pace and the epoch's time left."""
        if self.trial_bar is not None:
            self.trial_bar.set_postfix_str(StepProgress(**progress).describe())

    def epoch(self, metrics: dict[str, Any]) -> None:
        if self.trial_bar is not None:
            self.trial_bar.update(1)
            self.trial_bar.set_postfix_str(f"val_acc={metrics['val_accuracy']:.4f}")

    def trial_end(self, rec: "TrialRecord", best: "TrialRecord | None") -> None:
        """One line per finished trial; the study bar counts the trials towards the target."""
        if self.trial_bar is not None:
            self.trial_bar.close()
            self.trial_bar = None
        acc = rec.best_val_accuracy
        acc_s = f"{acc:.4f}" if isinstance(acc, float) else "-"
        line = (f"trial {rec.trial:>3} {rec.state:<9} val_acc={acc_s} "
                f"params={rec.params or 0:,} {rec.reason}".rstrip())
        split = time_split(rec)
        if split:
            line += f" | {split}"
        if best is not None and best.best_val_accuracy is not None:
            line += f" | best so far: trial {best.trial} val_acc={best.best_val_accuracy:.4f}"
        self.write(line)
        if self.bar is not None and rec.counts:
            self.bar.update(1)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        for b in (self.trial_bar, self.bar):
            if b is not None:
                b.close()
