"""labkit.distributed: how training is spread over many workers, each idea run for real on this machine.

* :mod:`~labkit.distributed.collectives`: all-reduce on simulated workers (parameter server, ring, tree) with
  every byte and step counted, and the α–β time model
* :mod:`~labkit.distributed.parameter_server`: synchronous vs asynchronous data parallelism with worker
  processes, staleness and stragglers
* :mod:`~labkit.distributed.pipeline`: model and GPipe pipeline parallelism across processes, with the bubble
  measured
* :mod:`~labkit.distributed.scaling`: data sharding, the linear learning-rate scaling rule with warm-up, scaling
  efficiency
* :mod:`~labkit.distributed.horovod`: Horovod launched locally, on Spark or on several hosts, and the course's
  data-parallel MNIST training function
* :mod:`~labkit.distributed.plots`: the figures

Horovod and TensorFlow are imported only by the functions that need them.

>>> from labkit.distributed import allreduce
>>> allreduce([np.ones(4)] * 3, algorithm="ring").values[0].tolist()
[3.0, 3.0, 3.0, 3.0]
"""

import numpy as np  # noqa: F401  (the doctest above uses it)

from labkit.distributed.collectives import (
    Network,
    allreduce,
    communication_time,
    parameter_server_allreduce,
    ring_allreduce,
    ring_chunk,
    tree_allreduce,
)
from labkit.distributed.parameter_server import ParameterServerRun, train_parameter_server
from labkit.distributed.pipeline import PipelineRun, bubble_fraction, partition_layers, train_pipeline
from labkit.distributed.scaling import scaled_learning_rate, scaling_efficiency, shard_indices, warmup_learning_rate

__all__ = ["Network", "ParameterServerRun", "PipelineRun", "allreduce", "bubble_fraction", "communication_time",
           "parameter_server_allreduce", "partition_layers", "ring_allreduce", "ring_chunk", "scaled_learning_rate",
           "scaling_efficiency", "shard_indices", "train_parameter_server", "train_pipeline", "tree_allreduce",
           "warmup_learning_rate"]
