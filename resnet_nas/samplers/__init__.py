"""Optuna samplers for discrete architecture spaces that Optuna does not ship: regularized
(aging) evolution (`EvolutionSampler`, Real et al. 2019) and local search
(`LocalSearchSampler`, White et al. 2021).

Both are `optuna.samplers.BaseSampler`s, so storages, workers, resume and `benchmark replay`
use them unchanged; both keep no state but a trial's plan while it is sampled: each decision is
derived from the study's trials (a resumed search or a second worker continues where the study
is) and from the seed and the trial's number (the same study and seed propose the same trials).
"""

from resnet_nas.samplers.evolution import EvolutionSampler
from resnet_nas.samplers.local_search import LocalSearchSampler

__all__ = ["EvolutionSampler", "LocalSearchSampler"]
