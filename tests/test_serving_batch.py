"""Batch scoring with Spark gives exactly the probabilities the model gives in pandas, row for row."""

import numpy as np
import pytest

from labkit.serving.batch import output_schema, rows_per_second, score_with_spark, spark_features
from labkit.serving.flights import FEATURES, LABEL, delay_model, delay_table
from labkit.serving.tracking import TRUSTED_TYPES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import mlflow

    table = delay_table(months=[2], sample=0.1, seed=1)
    model = delay_model(max_iter=20).fit(table[FEATURES], table[LABEL])
    path = tmp_path_factory.mktemp("model") / "delays"
    mlflow.sklearn.save_model(model, path, pyfunc_predict_fn="predict_proba", skops_trusted_types=TRUSTED_TYPES,
                              input_example=table[FEATURES].head(2))
    return path, model


def test_spark_scores_equal_the_models_own(spark, model_dir):
    path, model = model_dir
    rows = delay_table(months=[3], sample=0.02, seed=2)[FEATURES]
    scored = score_with_spark(spark.createDataFrame(rows), path).toPandas()
    assert list(scored.columns) == [*FEATURES, "probability"]
    merged = scored.merge(rows.assign(expected=model.predict_proba(rows)[:, 1]), on=FEATURES, how="inner")
    assert len(scored) == len(rows) and len(merged) >= len(rows)
    assert np.allclose(merged["probability"], merged["expected"], atol=1e-9)


def test_the_spark_features_are_the_pandas_table(spark):
    """Same flights, same columns and types as labkit.serving.flights builds with pandas (lab 03's data)."""
    spark_rows = spark_features(spark, months=[1]).toPandas().sort_values(FEATURES).reset_index(drop=True)
    pandas_rows = delay_table(months=[1])[FEATURES].sort_values(FEATURES).reset_index(drop=True)
    assert len(spark_rows) == len(pandas_rows)
    assert np.allclose(spark_rows["temp"].astype(float), pandas_rows["temp"].astype(float), equal_nan=True)
    keys = ["carrier", "origin", "dep_hour"]
    assert (spark_rows[keys].values == pandas_rows[keys].values).all()


def test_rows_per_second_counts_every_row(spark, model_dir):
    rows = delay_table(months=[4], sample=0.01, seed=3)[FEATURES]
    count, speed = rows_per_second(score_with_spark(spark.createDataFrame(rows), model_dir[0]))
    assert count == len(rows) and speed > 0
    assert output_schema().endswith("probability double")
