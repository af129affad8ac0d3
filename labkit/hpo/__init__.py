"""Hyperparameter optimisation: search spaces, searchers, schedulers, executors and the experiment log.

* spaces: :mod:`labkit.hpo.space` (``choice``, ``uniform``, ``quniform``, ``loguniform``, ``normal``, ``qnormal``,
  ``randint``);
* searchers: :class:`GridSearcher`, :class:`RandomSearcher`, :class:`TPESearcher` (Bayesian);
* schedulers (one protocol, ``suggest()`` and ``on_result(trial, step, metric) → Decision``):
  :class:`FIFOScheduler`, :class:`EarlyStoppingScheduler` with :class:`BanditPolicy`,
  :class:`MedianStoppingPolicy` or :class:`TruncationSelectionPolicy`, :class:`SuccessiveHalving`,
  :class:`ASHA`, :class:`AdaptiveASHA`, :class:`Hyperband`, :class:`PBT`;
* executors: :class:`SerialExecutor`, :class:`ProcessExecutor`, :class:`SparkExecutor`;
* :func:`tune` runs an experiment and returns an :class:`Experiment` with its tidy log.

>>> from labkit.hpo import choice, grid_configs
>>> len(grid_configs({"HP1": choice([2, 5]), "HP2": choice([60, 85, 90])}))
6
"""

from labkit.hpo.asha import ASHA, AdaptiveASHA
from labkit.hpo.executors import JobResult, ProcessExecutor, SerialExecutor, SparkExecutor
from labkit.hpo.hyperband import Bracket, Hyperband, hyperband_brackets
from labkit.hpo.pbt import PBT
from labkit.hpo.scheduler import EarlyStoppingScheduler, FIFOScheduler, Job, Scheduler
from labkit.hpo.search import GridSearcher, RandomSearcher, Searcher, grid_configs, random_configs
from labkit.hpo.sha import SuccessiveHalving
from labkit.hpo.space import choice, loguniform, normal, qnormal, quniform, randint, sample, uniform
from labkit.hpo.stopping import BanditPolicy, Decision, MedianStoppingPolicy, TruncationSelectionPolicy, first_stop
from labkit.hpo.tpe import TPESearcher
from labkit.hpo.tuner import Experiment, tune

__all__ = [
    "choice", "uniform", "quniform", "loguniform", "normal", "qnormal", "randint", "sample",
    "grid_configs", "random_configs", "Searcher", "GridSearcher", "RandomSearcher", "TPESearcher",
    "Bracket", "hyperband_brackets", "Decision", "BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy",
    "first_stop",
    "Job", "Scheduler", "FIFOScheduler", "EarlyStoppingScheduler", "SuccessiveHalving", "ASHA", "AdaptiveASHA",
    "Hyperband", "PBT", "SerialExecutor", "ProcessExecutor", "SparkExecutor", "JobResult", "tune", "Experiment",
]
