"""labkit.spark, labkit.dataprep and labkit.mapreduce on a real local Spark, checked against pandas and numpy."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from labkit import dataprep
from labkit.mapreduce import map_reduce, tokenize
from labkit.spark import describe_mode

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flights(spark):
    from labkit.spark import load_flights

    return load_flights(spark)


def test_describe_mode_follows_the_environment():
    assert describe_mode({}) == "master local[*]"
    assert describe_mode({"LABKIT_SPARK_MASTER": "spark://h:7077"}) == "master spark://h:7077"
    assert describe_mode({"LABKIT_SPARK_MASTER": "yarn", "LABKIT_SPARK_REMOTE": "sc://h:1"}) == "Spark Connect at sc://h:1"


def test_shipped_flights_match_nycflights13(spark, flights):
    """Facts of the published data set (R package nycflights13): rows, cancelled flights, airports."""
    from labkit.spark import load_flights

    assert flights.count() == 336_776
    nulls = dataprep.null_counts(flights)
    assert nulls["dep_time"] == 8_255 and nulls["arr_delay"] == 9_430 and nulls["origin"] == 0
    assert sorted(r.origin for r in flights.select("origin").distinct().collect()) == ["EWR", "JFK", "LGA"]
    assert load_flights(spark, "airlines").count() == 16
    with pytest.raises(ValueError, match="table must be one of"):
        load_flights(spark, "trains")


def test_null_counts_match_pandas(spark):
    pdf = pd.DataFrame({"a": [1.0, None, 3.0, None], "b": ["x", None, "y", "z"], "c": [1, 2, 3, 4]})
    df = spark.createDataFrame(pdf.astype(object).where(pdf.notna(), None))
    assert dataprep.null_counts(df) == pdf.isna().sum().to_dict()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iqr_bounds_use_exact_quartiles(spark, seed):
    values = np.random.default_rng(seed).lognormal(2, 1, 501)
    df = spark.createDataFrame(pd.DataFrame({"v": values}))
    q1, q3 = np.quantile(values, [0.25, 0.75], method="inverted_cdf")
    low, high = dataprep.iqr_bounds(df, "v", k=1.5)
    assert low == pytest.approx(q1 - 1.5 * (q3 - q1)) and high == pytest.approx(q3 + 1.5 * (q3 - q1))


def test_time_features_match_pandas(flights):
    got = dataprep.add_time_features(flights.limit(2000)).toPandas()
    stamps = pd.to_datetime(got["time_hour"], utc=True)
    assert (got["month"] == stamps.dt.month).all()
    assert (got["day_of_week"] == (stamps.dt.dayofweek + 1) % 7 + 1).all()  # pandas: Monday 0; Spark: Sunday 1
    assert (got["dep_hour"] == got["sched_dep_time"] // 100).all()
    known = got["arr_delay"].notna()
    assert (got.loc[known, "is_delayed"] == (got.loc[known, "arr_delay"] > 15).astype(int)).all()
    assert got.loc[~known, "is_delayed"].isna().all()


def test_scale_up_is_deterministic_and_keeps_the_real_rows(spark):
    from pyspark.sql import functions as F

    from labkit.spark import load_flights, scale_up

    base = load_flights(spark, sample=0.02, seed=3).cache()
    n = base.count()
    grown = scale_up(base, 3, seed=5)
    assert grown.count() == 3 * n
    assert grown.columns == base.columns
    agg = [F.sum("dep_delay"), F.sum("arr_delay"), F.count("dep_time")]
    assert scale_up(base, 3, seed=5).agg(*agg).first() == grown.agg(*agg).first()
    assert grown.filter(F.col("dep_time").isNull()).count() == 3 * base.filter(F.col("dep_time").isNull()).count()
    real = grown.filter(F.col("flight") < 10000).toPandas().sort_values(["time_hour", "flight", "tailnum"])
    original = base.toPandas().sort_values(["time_hour", "flight", "tailnum"])
    pd.testing.assert_frame_equal(real.reset_index(drop=True), original.reset_index(drop=True), check_dtype=False)
    synthetic = grown.filter(F.col("flight") >= 10000).agg(F.avg("dep_delay")).first()[0]
    assert synthetic == pytest.approx(base.agg(F.avg("dep_delay")).first()[0], abs=1.0)  # noise has mean 0
    with pytest.raises(ValueError, match="positive integer"):
        scale_up(base, 0)


def test_partition_sizes_and_job_counts(spark, flights):
    from labkit.spark import job_counts, partition_sizes

    sizes = partition_sizes(flights.repartition(4))
    assert len(sizes) == 4 and sum(sizes) == 336_776
    before = job_counts(spark)
    flights.groupBy("origin").count().collect()
    after = job_counts(spark)
    assert after["jobs"] > before["jobs"] and after["stages"] > before["stages"]


def test_prepared_flights_fit_on_train_only(spark):
    from pyspark.ml.functions import vector_to_array

    train, validation, test, model = dataprep.prepared_flights(spark, sample=0.03, seed=1)
    sizes = np.array([train.count(), validation.count(), test.count()], dtype=float)
    np.testing.assert_allclose(sizes / sizes.sum(), dataprep.SPLIT, atol=0.03)
    raw = np.array(train.select(vector_to_array("raw_features").alias("v")).toPandas()["v"].tolist())
    np.testing.assert_allclose(model.stages[-1].mean.toArray(), raw.mean(axis=0), rtol=1e-9, atol=1e-9)
    assert {"features", "arr_delay", "is_delayed"} <= set(test.columns)


def test_word_count_matches_counter():
    lines = ["John F Kennedy Intl", "La Guardia", "Newark Liberty Intl", "kennedy"]
    counts = map_reduce(lines, mapper=lambda line: [(w, 1) for w in tokenize(line)], reducer=lambda a, b: a + b)
    assert counts == Counter(w for line in lines for w in line.lower().split())


def test_the_jvms_start_up_notes_stay_out_of_the_notebook(tmp_path):
    """A notebook shows what the kernel's descriptors 1 and 2 receive: the JVM's "Using incubator modules" and
    log-level notes go to build/logs/spark-jvm.log instead."""
    import os
    import subprocess
    import sys

    script = "from labkit.spark import get_spark\nget_spark('jvm-notes').range(3).count()\nprint('done')"
    env = {**os.environ, "LABKIT_COURSE_ROOT": str(tmp_path)}
    env.pop("LABKIT_SPARK_REMOTE", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "done", out.stderr
    assert "Setting default log level" not in out.stderr and "incubator" not in out.stderr
    assert "Setting default log level" in (tmp_path / "build" / "logs" / "spark-jvm.log").read_text()
