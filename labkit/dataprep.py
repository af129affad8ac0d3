"""Data preparation with Spark: the reference implementations of lab 02, reused by lab 03.

From raw nycflights13 to model-ready features: profile, clean, remove outliers by the IQR rule, join
weather and destination airports, engineer time features and the delay label, split 70/10/20, and
assemble one Spark ML ``Pipeline`` that is fitted on the training split only (no leakage).
"""

from __future__ import annotations

from collections.abc import Sequence

from labkit.spark import load_flights

DELAY_THRESHOLD = 15  # minutes: the usual definition of a delayed arrival
CATEGORICAL = ("carrier", "origin")
NUMERIC = ("distance", "dep_hour", "month", "day_of_week", "temp", "wind_speed", "precip", "visib", "dest_alt")
SPLIT = (0.7, 0.1, 0.2)


def null_counts(df) -> dict[str, int]:
    """Missing values per column, in one pass over the data (one Spark job, not one per column)."""
    from pyspark.sql import functions as F

    row = df.select([F.count(F.when(F.col(c).isNull(), 1)).alias(c) for c in df.columns]).first()
    return {c: int(row[c]) for c in df.columns}


def iqr_bounds(df, column: str, *, k: float = 1.5) -> tuple[float, float]:
    """Tukey's fences ``(Q1 - k·IQR, Q3 + k·IQR)`` from the exact quartiles of ``column`` (nulls ignored)."""
    q1, q3 = df.approxQuantile(column, [0.25, 0.75], 0.0)
    iqr = q3 - q1
    return q1 - k * iqr, q3 + k * iqr


def add_time_features(df):
    """Add ``month``, ``day_of_week`` (1 = Sunday … 7 = Saturday, Spark's convention), ``dep_hour`` (scheduled)
    and ``is_delayed`` (1 when the arrival delay exceeds 15 minutes, null when it is unknown)."""
    from pyspark.sql import functions as F

    return (df.withColumn("month", F.month("time_hour"))
              .withColumn("day_of_week", F.dayofweek("time_hour"))
              .withColumn("dep_hour", (F.col("sched_dep_time") / 100).cast("int"))
              .withColumn("is_delayed", F.when(F.col("arr_delay").isNull(), None)
                          .otherwise((F.col("arr_delay") > DELAY_THRESHOLD).cast("int"))))


def join_context(flights, weather, airports):
    """Flights with the weather at the origin in the scheduled hour and the destination's altitude and position."""
    weather_cols = weather.select("origin", "time_hour", "temp", "wind_speed", "precip", "visib")
    dest = airports.select(airports.faa.alias("dest"), airports.alt.alias("dest_alt"),
                           airports.lat.alias("dest_lat"), airports.lon.alias("dest_lon"))
    return flights.join(weather_cols, on=["origin", "time_hour"], how="left").join(dest, on="dest", how="left")


def make_prep_pipeline(categorical: Sequence[str] = CATEGORICAL, numeric: Sequence[str] = NUMERIC):
    """Index and one-hot encode ``categorical``, median-impute ``numeric``, assemble and standardise.

    Output column: ``features``. Unseen categories map to an extra "unknown" slot (``handleInvalid="keep"``).
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler

    categorical, numeric = list(categorical), list(numeric)
    indexed = [f"{c}_idx" for c in categorical]
    encoded = [f"{c}_vec" for c in categorical]
    imputed = [f"{c}_imp" for c in numeric]
    return Pipeline(stages=[
        StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"),
        OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"),
        Imputer(inputCols=numeric, outputCols=imputed, strategy="median"),
        VectorAssembler(inputCols=encoded + imputed, outputCol="raw_features"),
        StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
    ])


def prepared_flights(spark, *, sample: float | None = None, seed: int = 0):
    """Lab 02's result, ready for lab 03: ``(train, validation, test, pipeline_model)``.

    Cancelled flights (no arrival delay) are dropped, arrival delays outside Tukey's fences removed,
    weather and destination joined, time features added, the data split 70/10/20 with ``seed`` and the
    preparation pipeline fitted on the training split only, then applied to all three.
    """
    from pyspark.sql import functions as F

    flights = load_flights(spark, sample=sample, seed=seed).filter(F.col("arr_delay").isNotNull())
    low, high = iqr_bounds(flights, "arr_delay", k=3.0)
    flights = flights.filter(F.col("arr_delay").between(low, high))
    data = add_time_features(join_context(flights, load_flights(spark, "weather"), load_flights(spark, "airports")))
    train, validation, test = data.randomSplit(list(SPLIT), seed=seed)
    model = make_prep_pipeline().fit(train)
    return model.transform(train), model.transform(validation), model.transform(test), model
