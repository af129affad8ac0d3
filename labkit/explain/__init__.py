"""Why did the model say that? Model-agnostic explanations that only call the model's ``predict``.

* :mod:`labkit.explain.permutation` — how much a model's score falls when one feature's values are shuffled;
* :mod:`labkit.explain.shapley` — each feature's share of one prediction (Shapley values), exactly by the subset
  formula or by KernelSHAP's weighted regression.
"""

from labkit.explain.permutation import Importances, permutation_importance
from labkit.explain.shapley import Explanation, exact_shapley, kernel_shap

__all__ = ["Explanation", "Importances", "exact_shapley", "kernel_shap", "permutation_importance"]
