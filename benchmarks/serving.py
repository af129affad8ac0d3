"""``make bench-serving``: lab 10's measurements, side by side in one run.

* the model API (``labkit.serving.api``, its own process on 127.0.0.1) under a bounded load: p50/p95/p99 latency
  and throughput for 1 flight and 64 flights per request, 4 keep-alive clients, 400 requests each;
* batch scoring of every 2013 flight after April with Spark's ``mapInPandas``: rows per second, against the
  same model scoring the same rows in pandas in one call;
* KernelSHAP: labkit's ``kernel_shap`` against the ``shap`` package's ``KernelExplainer`` on the delay model
  (8 features, every coalition, 50 background flights, 20 flights explained): time per explanation and the
  largest difference between their values.

The model is the lab's: gradient-boosted trees trained on January–April 2013. Run alone (``make bench-serving``)
it refreshes only its section of ``results.md``; ``make bench`` runs it too.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

HEADING = "## Serving (lab 10)"
CLIENTS, REQUESTS, BATCHES = 4, 400, (1, 64)
EXPLAINED, BACKGROUND = 20, 50


def _model():
    from labkit.serving.flights import FEATURES, LABEL, delay_model, delay_table

    table = delay_table()
    spring = table[table["month"] <= 4]
    return delay_model(seed=0).fit(spring[FEATURES], spring[LABEL]), table


def _api_rows(model, table, root: Path) -> list[str]:
    import mlflow

    from labkit.serving.api import ModelServer
    from labkit.serving.flights import FEATURES
    from labkit.serving.load import load_test
    from labkit.serving.tracking import TrackingServer, log_model, register, run

    rows = []
    with TrackingServer(root / "mlflow") as tracking:
        mlflow.set_experiment("bench")
        with run("bench"):
            version = register(log_model(model, table[FEATURES].head(5)).model_uri, "bench-delays").version
        with ModelServer(f"models:/bench-delays/{version}", tracking_uri=tracking.uri) as api:
            flights = json.loads(table[FEATURES].head(64).to_json(orient="records"))
            load_test(api.url("predict"), {"flights": flights[:1]}, clients=2, requests=40)  # warm-up
            for batch in BATCHES:
                r = load_test(api.url("predict"), {"flights": flights[:batch]}, clients=CLIENTS, requests=REQUESTS,
                              rows_per_request=batch)
                rows.append(f"| {batch} | {r.latencies.size} | {r.errors} | {r.p50 * 1000:.1f} | {r.p95 * 1000:.1f} | "
                            f"{r.p99 * 1000:.1f} | {r.requests_per_second:,.0f} | {r.rows_per_second:,.0f} |")
                print(rows[-1])
    return rows


def _spark_rows(model, root: Path) -> list[str]:
    import mlflow

    from labkit.serving.batch import rows_per_second, score_with_spark, spark_features
    from labkit.serving.flights import FEATURES
    from labkit.serving.tracking import TRUSTED_TYPES
    from labkit.spark import get_spark

    spark = get_spark("bench-serving")
    path = root / "model"
    mlflow.sklearn.save_model(model, path, pyfunc_predict_fn="predict_proba", skops_trusted_types=TRUSTED_TYPES)
    features = spark_features(spark, months=list(range(5, 13))).cache()
    count = features.count()
    score_with_spark(features.limit(1000), path).count()  # warm-up: Python workers started
    n, spark_speed = rows_per_second(score_with_spark(features, path))
    local = features.toPandas()
    start = time.perf_counter()
    model.predict_proba(local[FEATURES])
    pandas_speed = len(local) / (time.perf_counter() - start)
    print(f"spark {spark_speed:,.0f} rows/s, pandas {pandas_speed:,.0f} rows/s over {count:,} rows")
    assert n == count
    return [f"| Spark `mapInPandas` (`{spark.sparkContext.master}`) | {n:,} | {spark_speed:,.0f} |",
            f"| the pipeline in pandas, one call | {len(local):,} | {pandas_speed:,.0f} |"]


def _shap_rows(model, table) -> list[str]:
    import shap

    from labkit.explain import kernel_shap
    from labkit.explain.shapley import background_sample
    from labkit.serving.flights import FEATURES, NUMERIC

    # shap's KernelExplainer works on numbers: explain the numeric features with the categories held fixed
    flights = table[FEATURES].dropna().reset_index(drop=True)
    fixed = flights.iloc[0]
    numeric = flights[NUMERIC]

    def predict(values) -> np.ndarray:
        frame = np.asarray(values, dtype=float)
        data = {c: np.full(len(frame), fixed[c]) for c in ("carrier", "origin")}
        data |= {c: frame[:, j] for j, c in enumerate(NUMERIC)}
        import pandas as pd

        return model.predict_proba(pd.DataFrame(data)[FEATURES])[:, 1]

    background = background_sample(numeric.to_numpy(), BACKGROUND, seed=0)
    explainer = shap.KernelExplainer(predict, background)
    targets = numeric.sample(EXPLAINED, random_state=1).to_numpy()
    ours_s, theirs_s, worst = 0.0, 0.0, 0.0
    for x in targets:
        start = time.perf_counter()
        ours = kernel_shap(predict, x[None, :], background).values
        ours_s += time.perf_counter() - start
        start = time.perf_counter()
        theirs = np.ravel(explainer.shap_values(x[None, :], nsamples=2 ** len(NUMERIC) - 2, silent=True))
        theirs_s += time.perf_counter() - start
        worst = max(worst, float(np.abs(ours - theirs).max()))
    print(f"kernel shap: labkit {ours_s / EXPLAINED * 1000:.1f} ms, shap {theirs_s / EXPLAINED * 1000:.1f} ms, "
          f"max difference {worst:.2e}")
    return [f"| labkit `kernel_shap` | {ours_s / EXPLAINED * 1000:.1f} | {worst:.1e} |",
            f"| `shap.KernelExplainer` (0.49) | {theirs_s / EXPLAINED * 1000:.1f} | (the reference) |"]


def serving_section() -> list[str]:
    from labkit.serving.flights import NUMERIC

    model, table = _model()
    with tempfile.TemporaryDirectory() as work:
        api = _api_rows(model, table, Path(work))
        spark = _spark_rows(model, Path(work))
    explain = _shap_rows(model, table)
    return [f"{HEADING}: the API under load, Spark batch scoring, KernelSHAP", "",
            "The delay model of lab 10 (gradient-boosted trees, January–April 2013) served by `labkit.serving.api` "
            f"in its own process on 127.0.0.1: {CLIENTS} keep-alive clients, {REQUESTS} requests per row after "
            "a warm-up, every latency kept (exact percentiles).", "",
            "| flights per request | requests | errors | p50 (ms) | p95 (ms) | p99 (ms) | requests/s | flights/s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|", *api, "",
            "Batch scoring of every flight after April (the same model folder, loaded once per partition):", "",
            "| scorer | rows | rows/s |", "|---|---:|---:|", *spark, "",
            f"KernelSHAP with every coalition of the {len(NUMERIC)} numeric features (carrier and origin held "
            f"fixed), {BACKGROUND} background flights, "
            f"{EXPLAINED} flights explained:", "",
            "| explainer | ms per explanation | largest difference from shap |", "|---|---:|---:|", *explain, ""]


if __name__ == "__main__":
    from sections import refresh

    here = Path(__file__).parent
    refresh(here / "results.md", HEADING, serving_section())
    print(f"wrote {here / 'results.md'}")
