"""labkit.dl: deep learning with Keras (TensorFlow 2.15) on the shipped MNIST: the course's model progression,
training with progress bars and early stopping, and transfer learning done offline.

* :mod:`~labkit.dl.models` — ``build_ann`` (softmax regression, hidden ReLU layers, dropout, L2) and
  ``build_cnn``; every model compiled with sparse categorical cross-entropy and accuracy
* :mod:`~labkit.dl.progression` — the course text's three MNIST models exactly (``softmax_regression``,
  ``two_hidden_layers``, ``lenet`` with its pooling, batch-norm and augmentation variants) and its reported
  results (``TEXT_RESULTS``, ``progression_table``)
* :mod:`~labkit.dl.schedules` — learning-rate schedules (step, exponential, cosine, cyclical) and their Keras
  callback
* :mod:`~labkit.dl.plots` — schedules beside their loss, augmented digits
* :mod:`~labkit.dl.training` — ``train`` (progress bar, optional early stopping, validation split) and
  ``compare`` (one history per setting: optimisers, learning rates, batch sizes)
* :mod:`~labkit.dl.transfer` — digit subsets, few-label samples, and ``transfer_model`` (freeze a pre-trained
  base, add a new head)
* :mod:`~labkit.dl.sequences` — lab 09's ``SimpleRNN``/``LSTM``/``GRU`` classifiers of MNIST rows, the LSTM
  forecaster and the recurrent parameter-count formula

TensorFlow is imported when a function needs it, so ``import labkit.dl`` stays fast.
"""

from labkit.dl.models import build_ann, build_cnn, dense_summary, make_optimizer
from labkit.dl.progression import (
                                   TEXT_RESULTS,
                                   augmentation_layers,
                                   lenet,
                                   progression_table,
                                   softmax_regression,
                                   two_hidden_layers,
)
from labkit.dl.training import ProgressCallback, compare, train
from labkit.dl.transfer import digit_subset, few_labels, toy_base, transfer_model

__all__ = ["ProgressCallback", "TEXT_RESULTS", "augmentation_layers", "build_ann", "build_cnn", "compare",
           "dense_summary", "digit_subset", "few_labels", "lenet", "make_optimizer", "progression_table",
           "softmax_regression", "toy_base", "train", "transfer_model", "two_hidden_layers"]
