"""Tabular benchmarks of a search space: train every architecture once (`build`), then replay
samplers and pruners on the stored table at no training cost (`replay`).

`enumerate` and `replay` are pure Python (no Keras); `build` trains through the search's own
trial processes and writes the search's own trial records.
"""
