"""One way to get a Spark session for every lab, local or remote, chosen by configuration.

* default: local mode (``local[*]``), laptop-sized memory and shuffle partitions, UI off under CI,
  bound to 127.0.0.1;
* ``LABKIT_SPARK_MASTER=spark://host:7077`` (or ``yarn``, ``k8s://…``): a cluster through its manager;
* ``LABKIT_SPARK_REMOTE=sc://host:15002``: a Spark Connect server.

Spark's own log is kept at ERROR and off the notebook's stderr (nbgrader zeroes a test cell that
writes to stderr).

>>> describe_mode({"LABKIT_SPARK_REMOTE": "sc://localhost:15002"})
'Spark Connect at sc://localhost:15002'
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

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


def get_spark(app_name: str = "labkit", *, conf: Mapping[str, str] | None = None):
    """Return the lab's ``SparkSession`` (created once, then reused), configured from the environment."""
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
        return builder.getOrCreate()
    master = os.environ.get("LABKIT_SPARK_MASTER", "local[*]")
    settings = {**DEFAULT_CONF, "spark.ui.enabled": "false" if os.environ.get("CI") else "true", **(conf or {})}
    if master.startswith("local"):
        settings.setdefault("spark.driver.host", "127.0.0.1")
        settings.setdefault("spark.driver.bindAddress", "127.0.0.1")
    builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
