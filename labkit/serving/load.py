"""A bounded load test of an HTTP endpoint: concurrent clients, a fixed number of requests, latency percentiles.

Latency is what one user waits; throughput is how many requests the service answers per second. Each of
``clients`` threads keeps one connection open (as a real client would) and sends its share of ``requests``
POSTs one after the other, stopping early at ``duration`` seconds. The result keeps every request's latency, so
the percentiles are exact, not estimated: p50 is the typical wait, p95 and p99 the slow tail users remember.

>>> LoadResult(latencies=np.array([0.01, 0.02, 0.03, 0.04]), seconds=0.05, errors=0, rows_per_request=1).p50
0.025
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from labkit._validation import check_int, check_number


@dataclass(frozen=True)
class LoadResult:
    """Every successful request's latency in seconds, the wall time, the failed requests and the batch size."""

    latencies: np.ndarray
    seconds: float
    errors: int
    rows_per_request: int

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies.size else float("nan")

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def requests_per_second(self) -> float:
        return self.latencies.size / self.seconds if self.seconds > 0 else float("nan")

    @property
    def rows_per_second(self) -> float:
        return self.requests_per_second * self.rows_per_request

    def summary(self) -> dict[str, float]:
        return {"requests": int(self.latencies.size), "errors": self.errors, "p50 ms": self.p50 * 1000,
                "p95 ms": self.p95 * 1000, "p99 ms": self.p99 * 1000, "requests/s": self.requests_per_second,
                "rows/s": self.rows_per_second}


def load_test(url: str, body: dict, *, clients: int = 4, requests: int = 200, duration: float = 30.0,
              rows_per_request: int = 1) -> LoadResult:
    """POST ``body`` (as JSON) to ``url`` ``requests`` times from ``clients`` concurrent connections, for at most
    ``duration`` seconds. Only 127.0.0.1 and localhost are allowed: a load test is never pointed at someone
    else's server by accident."""
    clients, requests = check_int("clients", clients, maximum=64), check_int("requests", requests, maximum=100_000)
    duration = check_number("duration", duration, low=0.1, high=600)
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"load_test only targets http://127.0.0.1 (a local server), got {url!r}.")
    payload = json.dumps(body).encode()
    path = parts.path or "/"
    deadline = time.monotonic() + duration
    lock, latencies, errors = threading.Lock(), [], [0]

    def client(count: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
        try:
            for _ in range(count):
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter()
                try:
                    connection.request("POST", path, payload, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    connection.close()
                    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
                elapsed = time.perf_counter() - start
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    else:
                        errors[0] += 1
        finally:
            connection.close()

    shares = [requests // clients + (i < requests % clients) for i in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, [s for s in shares if s]))
    return LoadResult(np.array(latencies), time.perf_counter() - start, errors[0], rows_per_request)
