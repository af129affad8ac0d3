"""Lab 03's delay classifier, rebuilt with pandas and scikit-learn so that it can be explained and served anywhere.

Same data and label as :mod:`labkit.dataprep` (the Spark version): each 2013 flight from New York with the
weather at its origin in the scheduled hour; the label is an arrival more than 15 minutes late. Cancelled and
diverted flights (no arrival delay) are left out, as lab 03 does.

>>> table = delay_table(months=[1], sample=0.05, seed=0)
>>> sorted(table.columns) == sorted([*FEATURES, LABEL, "month"])
True
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from labkit.dataprep import DELAY_THRESHOLD

CATEGORICAL = ["carrier", "origin"]
NUMERIC = ["dep_hour", "distance", "temp", "wind_speed", "precip", "visib"]
FEATURES = CATEGORICAL + NUMERIC
LABEL = "is_delayed"
WEATHER = ["temp", "wind_speed", "precip", "visib"]


def delay_table(months: Iterable[int] | None = None, *, sample: float | None = None, seed: int = 0) -> pd.DataFrame:
    """The flights of ``months`` (1–12, all by default) with their features, ``month`` and the label.

    ``sample`` (a fraction in (0, 1]) keeps a seeded random share of the rows, for fast runs."""
    from labkit.datasets import dataset_path

    if sample is not None and not 0 < sample <= 1:
        raise ValueError(f"sample must be a fraction in (0, 1], got {sample!r}.")
    flights = pd.read_parquet(dataset_path("flights_flights.parquet"),
                              columns=["month", "sched_dep_time", "distance", "carrier", "origin", "arr_delay",
                                       "time_hour"])
    if months is not None:
        wanted = sorted(set(months))
        if not wanted or not set(wanted) <= set(range(1, 13)):
            raise ValueError(f"months must be numbers from 1 to 12, got {wanted}.")
        flights = flights[flights["month"].isin(wanted)]
    flights = flights.dropna(subset=["arr_delay"])
    if sample is not None:
        flights = flights.sample(frac=sample, random_state=seed)
    weather = pd.read_parquet(dataset_path("flights_weather.parquet"), columns=["origin", "time_hour", *WEATHER])
    weather = weather.drop_duplicates(["origin", "time_hour"])
    table = flights.merge(weather, on=["origin", "time_hour"], how="left")
    table["dep_hour"] = table["sched_dep_time"] // 100
    table["distance"] = table["distance"].astype(float)  # a served request may carry any distance, not only whole miles
    table[LABEL] = (table["arr_delay"] > DELAY_THRESHOLD).astype(int)
    return table[[*FEATURES, "month", LABEL]].reset_index(drop=True)


def delay_model(*, seed: int = 0, max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 31):
    """The classifier: carrier and origin one-hot encoded, then gradient-boosted trees (which take the weather's
    missing values as they are). One object from raw columns to a probability, preprocessing included.

    >>> delay_model().steps[-1][0]
    'boost'
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer([("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
                               remainder="passthrough", verbose_feature_names_out=False)
    return Pipeline([("encode", encode),
                     ("boost", HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                                              max_leaf_nodes=max_leaf_nodes, random_state=seed))])


def one_hot_aligned(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``rows`` with carrier and origin one-hot encoded and exactly ``columns``, in their order: a category the
    rows lack is a column of zeros, one ``columns`` lacks is dropped (lab 10's task 4, the reference).

    >>> one_hot_aligned(pd.DataFrame({"carrier": ["DL"], "origin": ["JFK"], "dep_hour": [7]}),
    ...                 ["dep_hour", "carrier_AA", "carrier_DL", "origin_JFK"]).to_numpy().tolist()
    [[7.0, 0.0, 1.0, 1.0]]
    """
    encoded = pd.get_dummies(rows, columns=[c for c in CATEGORICAL if c in rows.columns], dtype=float)
    return encoded.reindex(columns=columns, fill_value=0.0).astype(float)


def monthly(table: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """``table`` split by month, in calendar order."""
    return {int(m): part.reset_index(drop=True) for m, part in table.groupby("month", sort=True)}


def positive_share(y: Iterable[int]) -> float:
    """The share of delayed flights: the accuracy of always answering "on time" is one minus it.

    >>> positive_share([0, 1, 1, 0])
    0.5
    """
    return float(np.mean(np.asarray(list(y))))
