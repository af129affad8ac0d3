"""labkit: the helper package of an autograded course from Spark essentials to distributed deep learning.

Heavy engines (Spark, TensorFlow, Horovod) are imported lazily by the modules that need them, so
``import labkit`` and ``import labkit.metrics`` stay fast in a grading kernel.
"""

__version__ = "0.1.0"
