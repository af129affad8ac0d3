"""Evaluation metrics for regression, classification and clustering, from scratch in NumPy.

>>> from labkit.metrics import accuracy_score, mean_squared_error
>>> accuracy_score([1, 0, 1], [1, 1, 1]), mean_squared_error([1, 2], [1, 4])
(0.6666666666666666, 2.0)
"""

from labkit.metrics.classification import (
    accuracy_score,
    auc,
    average_precision_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from labkit.metrics.clustering import (
    adjusted_rand_score,
    davies_bouldin_score,
    rand_score,
    silhouette_samples,
    silhouette_score,
)
from labkit.metrics.regression import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    residuals,
    root_mean_squared_error,
)

__all__ = [
    "accuracy_score", "auc", "average_precision_score", "cohen_kappa_score", "confusion_matrix", "f1_score",
    "precision_recall_curve", "precision_recall_fscore_support", "precision_score", "recall_score",
    "roc_auc_score", "roc_curve", "adjusted_rand_score", "davies_bouldin_score", "rand_score",
    "silhouette_samples", "silhouette_score", "mean_absolute_error", "mean_squared_error", "r2_score",
    "residuals", "root_mean_squared_error",
]
