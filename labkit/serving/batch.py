"""Batch scoring with Spark: the same model object the API serves, applied to every flight of a table.

An API answers one request at a time; a nightly job scores millions of rows. Spark's ``mapInPandas`` hands each
partition to a Python function as pandas DataFrames, in batches of ``spark.sql.execution.arrow.maxRecordsPerBatch``
rows: the function loads the model **once per partition** (not once per row) and scores whole batches. The model
is the MLflow model folder, preprocessing included, so the job cannot apply a different transformation than
training did.

>>> output_schema().split(", ")[:3]
['carrier string', 'origin string', 'dep_hour bigint']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from labkit.serving.flights import CATEGORICAL, FEATURES, NUMERIC


def output_schema() -> str:
    """The scored table's columns: the features as the model takes them, and the delay probability."""
    types = {c: "string" for c in CATEGORICAL} | {c: "double" for c in NUMERIC} | {"dep_hour": "bigint"}
    return ", ".join(f"{c} {types[c]}" for c in FEATURES) + ", probability double"


def spark_features(spark, *, sample: float | None = None, seed: int = 0, months: list[int] | None = None):
    """Lab 03's flights in Spark, joined with the weather, as the model's feature columns (arrival known)."""
    from pyspark.sql import functions as F

    from labkit.dataprep import add_time_features, join_context
    from labkit.spark import load_flights

    flights = load_flights(spark, sample=sample, seed=seed).filter(F.col("arr_delay").isNotNull())
    if months:
        flights = flights.filter(F.col("month").isin(months))
    data = add_time_features(join_context(flights, load_flights(spark, "weather"), load_flights(spark, "airports")))
    return data.select(*[F.col(c).cast("double") if c in NUMERIC else F.col(c) for c in FEATURES if c != "dep_hour"],
                       F.col("dep_hour").cast("bigint")).select(*FEATURES)


def score_with_spark(features, model_dir: str | Path):
    """``features`` (a Spark DataFrame of the model's columns) with a ``probability`` column, computed by the MLflow
    model in ``model_dir`` (a local folder every Spark worker can read)."""
    model_dir = str(Path(model_dir).resolve())

    def score(batches: Iterator) -> Iterator:
        import warnings

        import mlflow

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mlflow.pyfunc.load_model(model_dir)
            for batch in batches:
                yield batch.assign(probability=model.predict(batch[FEATURES])[:, -1])

    return features.mapInPandas(score, schema=output_schema())


def rows_per_second(scored) -> tuple[int, float]:
    """Run the scoring job to the end (every row scored) and time it: ``(rows, rows per second)``."""
    from pyspark.sql import functions as F

    start = time.perf_counter()
    rows = scored.agg(F.count("probability")).first()[0]
    return int(rows), rows / (time.perf_counter() - start)
