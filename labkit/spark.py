"""One way to get a Spark session for every lab, local or remote, chosen by configuration.

* default: local mode (``local[*]``), laptop-sized memory and shuffle partitions, UI off under CI,
  bound to 127.0.0.1;
* ``LABKIT_SPARK_MASTER=spark://host:7077`` (or ``yarn``, ``k8s://…``): a cluster through its manager;
* ``LABKIT_SPARK_REMOTE=sc://host:15002``: a Spark Connect server.

Spark's own log is kept at ERROR and off the notebook's stderr (nbgrader zeroes a test cell that
writes to stderr).

Data: :func:`read_dataset` reads the Parquet files shipped in ``datasets/`` (checksums verified). On a
cluster whose executors cannot see this machine's disk, copy ``datasets/`` to shared storage and set
``LABKIT_DATA_URI`` (``hdfs://…/datasets``, ``s3a://…/datasets``): files are then read from there.

>>> describe_mode({"LABKIT_SPARK_REMOTE": "sc://localhost:15002"})
'Spark Connect at sc://localhost:15002'
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

LOG4J2_CONFIG = Path(__file__).with_name("spark_log4j2.properties")

DEFAULT_CONF = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "2g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
}


def describe_mode(env: Mapping[str, str] | None = None) -> str:
    """Which kind of session :func:`get_spark` would return for this environment."""
    env = os.environ if env is None else env
    if env.get("LABKIT_SPARK_REMOTE"):
        return f"Spark Connect at {env['LABKIT_SPARK_REMOTE']}"
    return f"master {env.get('LABKIT_SPARK_MASTER', 'local[*]')}"


_SESSION: list = []  # the session get_spark made last: a lab's test cells ask for it again by calling get_spark()


def _session_types() -> tuple[type, ...]:
    from pyspark.sql import SparkSession
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    return SparkSession, ConnectSession


def _genuine(spark) -> bool:
    """A live session of PySpark's own classes (exactly: the list above is a module's, so a notebook could put
    any object in it; an impostor is ignored and a session made afresh)."""
    if not any(type(spark) is kind for kind in _session_types()):
        return False
    if is_connect(spark):
        return not getattr(spark, "is_stopped", False)
    return getattr(getattr(spark, "_sc", None), "_jsc", None) is not None


def get_spark(app_name: str = "labkit", *, conf: Mapping[str, str] | None = None):
    """Return the lab's ``SparkSession`` (created once, then reused), configured from the environment.

    Called again with no ``conf``, it returns the session already made, whatever name the notebook bound it
    to: a lab's checks call ``get_spark()`` rather than read the notebook's ``spark``, which a learner may rebind.
    """
    if _SESSION and not conf and _genuine(_SESSION[-1]):
        return _SESSION[-1]
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # Python workers must run the kit's interpreter: a kernel's PATH may lead `python3` elsewhere
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    remote = os.environ.get("LABKIT_SPARK_REMOTE")
    builder = SparkSession.builder.appName(app_name)
    if remote:
        builder = builder.remote(remote)
        for key, value in (conf or {}).items():
            builder = builder.config(key, value)
        _SESSION[:] = [builder.getOrCreate()]
        return _SESSION[-1]
    master = os.environ.get("LABKIT_SPARK_MASTER", "local[*]")
    settings = {**DEFAULT_CONF, "spark.ui.enabled": "false" if os.environ.get("CI") else "true",
                "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}",
                **(conf or {})}
    if master.startswith("local"):
        settings.setdefault("spark.driver.host", "127.0.0.1")
        settings.setdefault("spark.driver.bindAddress", "127.0.0.1")
    builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    from labkit._system import native_output_to
    from labkit.paths import build_dir

    # the JVM keeps the descriptors it starts with: its start-up notes and later native warnings go to a log
    logs = build_dir() / "logs"
    with contextlib.suppress(OSError):
        logs.mkdir(parents=True, exist_ok=True)
    with native_output_to(logs / "spark-jvm.log"):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    _SESSION[:] = [spark]
    return spark


def is_connect(spark) -> bool:
    """Whether ``spark`` is a Spark Connect session (no SparkContext, no RDD API)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def session_info(spark) -> dict:
    """Mode, version, master and parallelism of a session, in every mode."""
    info = {"mode": "Spark Connect" if is_connect(spark) else "classic", "version": spark.version}
    if is_connect(spark):
        info["remote"] = os.environ.get("LABKIT_SPARK_REMOTE", "")
        info["shuffle partitions"] = spark.conf.get("spark.sql.shuffle.partitions")
    else:
        sc = spark.sparkContext
        info.update({"master": sc.master, "app id": sc.applicationId, "default parallelism": sc.defaultParallelism,
                     "shuffle partitions": spark.conf.get("spark.sql.shuffle.partitions")})
    return info


def dataset_uri(name: str) -> str:
    """Where Spark reads a shipped file: ``$LABKIT_DATA_URI/<name>``, else the verified local copy."""
    base = os.environ.get("LABKIT_DATA_URI")
    if base:
        return f"{base.rstrip('/')}/{name}"
    from labkit.datasets import dataset_path

    return str(dataset_path(name))


def read_dataset(spark, name: str):
    """A shipped Parquet file (``flights_flights.parquet`` …) as a Spark DataFrame."""
    return spark.read.parquet(dataset_uri(name))


def load_flights(spark, table: str = "flights", *, sample: float | None = None, seed: int = 0):
    """One nycflights13 table (``flights``, ``weather``, ``airports``, ``planes``, ``airlines``).

    ``sample`` (a fraction in (0, 1]) takes a seeded random sample, for fast runs.
    """
    tables = ("flights", "weather", "airports", "planes", "airlines")
    if table not in tables:
        raise ValueError(f"table must be one of {tables}, got {table!r}.")
    df = read_dataset(spark, f"flights_{table}.parquet")
    if sample is not None:
        if not 0 < sample <= 1:
            raise ValueError(f"sample must be a fraction in (0, 1], got {sample!r}.")
        if sample < 1:
            df = df.sample(fraction=sample, seed=seed)
    return df


def scale_up(flights, factor: int, *, seed: int = 0):
    """Grow the flights table ``factor``-fold with realistic synthetic rows, deterministically.

    Replica 0 is the real data. Every other replica copies each real flight (its date, route, carrier,
    plane and schedule stay consistent) and perturbs its delays with seeded noise: departure delay
    plus N(0, 8²) minutes, arrival delay moving with it plus N(0, 4²), air time by ±3 %. Cancelled flights
    stay cancelled (their nulls are kept). Rows keep the schema, so every lab query runs unchanged.
    """
    from pyspark.sql import functions as F

    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}.")
    if factor == 1:
        return flights
    replicas = flights.sparkSession.range(factor).withColumnRenamed("id", "replica")
    grown = flights.crossJoin(replicas)
    synthetic = F.col("replica") > 0
    dep_noise = F.round(F.randn(seed) * 8)
    arr_noise = F.round(F.randn(seed + 1) * 4)
    def perturbed(column: str, noisy):
        return F.when(synthetic, noisy).otherwise(F.col(column))

    grown = (grown
             .withColumn("_dep", dep_noise)
             .withColumn("dep_delay", perturbed("dep_delay", F.col("dep_delay") + F.col("_dep")))
             .withColumn("arr_delay", perturbed("arr_delay", F.col("arr_delay") + F.col("_dep") + arr_noise))
             .withColumn("air_time", perturbed("air_time",
                                               F.round(F.col("air_time") * (1 + (F.rand(seed + 2) - 0.5) * 0.06))))
             .withColumn("flight", F.col("flight") + F.col("replica") * 10000)
             .drop("_dep", "replica"))
    return grown


def partition_sizes(df) -> list[int]:
    """Rows in each partition of ``df`` (works over Spark Connect too, via ``spark_partition_id``)."""
    from pyspark.sql import functions as F

    rows = df.groupBy(F.spark_partition_id().alias("p")).count().collect()
    sizes = dict((r["p"], r["count"]) for r in rows)
    return [sizes.get(i, 0) for i in range(max(sizes, default=-1) + 1)]


def job_counts(spark) -> dict | None:
    """Jobs run so far and the stages and tasks they used, from the driver's status tracker.

    Returns ``None`` over Spark Connect: the client has no SparkContext (use the server's UI instead).
    """
    if is_connect(spark):
        return None
    tracker = spark.sparkContext.statusTracker()
    jobs = [tracker.getJobInfo(j) for j in tracker.getJobIdsForGroup(None)]
    stage_ids = sorted({s for j in jobs if j for s in j.stageIds})
    stages = [tracker.getStageInfo(s) for s in stage_ids]
    tasks = sum(s.numTasks for s in stages if s)
    return {"jobs": len(jobs), "stages": len(stage_ids), "tasks": tasks}


def scratch_uri(name: str) -> str:
    """A folder for files a lab writes (a CSV copy, say): ``$LABKIT_SCRATCH_URI/<name>`` on a cluster,
    else ``build/scratch/<name>`` in the course (visible to a local Spark or a local Connect server)."""
    base = os.environ.get("LABKIT_SCRATCH_URI")
    if base:
        return f"{base.rstrip('/')}/{name}"
    from labkit.paths import build_dir

    path = build_dir() / "scratch" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)
