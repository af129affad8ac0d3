"""Hyperparameter optimisation: search spaces, samplers, schedulers and early-stopping policies.

>>> from labkit.hpo import choice, grid_configs
>>> len(grid_configs({"HP1": choice([2, 5]), "HP2": choice([60, 85, 90])}))
6
"""

from labkit.hpo.hyperband import Bracket, hyperband_brackets
from labkit.hpo.search import grid_configs, random_configs
from labkit.hpo.space import choice, loguniform, normal, qnormal, quniform, randint, sample, uniform
from labkit.hpo.stopping import BanditPolicy, Decision, MedianStoppingPolicy, TruncationSelectionPolicy

__all__ = [
    "choice", "uniform", "quniform", "loguniform", "normal", "qnormal", "randint", "sample",
    "grid_configs", "random_configs", "Bracket", "hyperband_brackets",
    "Decision", "BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy",
]
