"""Terminal progress of a search: study and per-trial bars plus a live best-so-far line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from resnet_nas.nets import Architecture

if TYPE_CHECKING:
    from resnet_nas.records import TrialRecord


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
