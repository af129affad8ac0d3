"""The model behind a REST API: FastAPI on uvicorn, one process on 127.0.0.1.

Why not MLflow's own scoring server (``mlflow models serve``)? It answers ``/invocations`` and ``/ping``, but a
request with a wrong field comes back as a generic error, and it exposes no metrics to scrape. This small app
loads the same registered model and adds what a service needs:

* ``GET /health`` — up, and which model it serves;
* ``POST /predict`` — ``{"flights": [{...}, ...]}`` → ``{"probabilities": [...]}``, one to ``MAX_BATCH`` rows;
  every field is validated (types, ranges, no NaN or infinity), and bad input gets a 422 that names the field
  (``flights[0].dep_hour: Input should be less than or equal to 23``), never a 500;
* ``GET /metrics`` — Prometheus's text format: requests by path and status, latency histograms, rows scored;
* one JSON line per request in the log (time, path, status, milliseconds, rows).

:class:`ModelServer` runs it (``python -m labkit.serving.api``) as a :class:`~labkit.serving.process.LocalService`.

>>> ModelServer("models:/flight-delays/1", port=8765).command[-4:]
['--port', '8765', '--model-uri', 'models:/flight-delays/1']
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from labkit.serving.process import LocalService, free_port

MAX_BATCH = 10_000  # rows per request: a larger batch is refused with a 422 naming the limit
LOGGER = "labkit.serving.api"


def request_schema():
    """The pydantic model of one flight and of a request (``flights``: 1 to ``MAX_BATCH`` of them)."""
    from pydantic import BaseModel, ConfigDict, Field

    finite = {"allow_inf_nan": False}

    class Flight(BaseModel):
        model_config = ConfigDict(extra="forbid")
        carrier: str = Field(min_length=2, max_length=3, description="airline code, e.g. UA")
        origin: str = Field(min_length=3, max_length=3, description="New York airport: JFK, LGA or EWR")
        dep_hour: int = Field(ge=0, le=23, description="scheduled departure hour")
        distance: float = Field(gt=0, le=10_000, description="miles", **finite)
        temp: float | None = Field(default=None, ge=-60, le=130, description="°F at the origin", **finite)
        wind_speed: float | None = Field(default=None, ge=0, le=300, description="mph", **finite)
        precip: float | None = Field(default=None, ge=0, le=20, description="inches in the hour", **finite)
        visib: float | None = Field(default=None, ge=0, le=100, description="miles", **finite)

    class Request(BaseModel):
        model_config = ConfigDict(extra="forbid")
        flights: list[Flight] = Field(min_length=1, max_length=MAX_BATCH)

    return Flight, Request


def field_name(location: tuple | list) -> str:
    """``("body", "flights", 0, "temp")`` → ``"flights[0].temp"``: where in the request a problem is.

    >>> field_name(("body", "flights", 0, "temp"))
    'flights[0].temp'
    """
    name = ""
    for part in location[1:] if location and location[0] == "body" else location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def create_app(model: Any, *, model_uri: str = "", features: list[str] | None = None):
    """The FastAPI app serving ``model`` (anything with ``predict(DataFrame)`` returning class probabilities, such
    as an MLflow pyfunc logged with ``pyfunc_predict_fn="predict_proba"``)."""
    import numpy as np
    import pandas as pd
    from fastapi import FastAPI
    from fastapi import Request as HttpRequest
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

    from labkit.serving.flights import FEATURES

    features = features or FEATURES
    _, PredictRequest = request_schema()
    registry = CollectorRegistry()
    requests = Counter("labkit_requests", "HTTP requests by path and status", ["path", "status"], registry=registry)
    latency = Histogram("labkit_request_seconds", "time to answer a request", ["path"], registry=registry,
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
    scored = Counter("labkit_rows_scored", "rows the model scored", registry=registry)
    log = logging.getLogger(LOGGER)
    app = FastAPI(title="labkit model API", description=f"serves {model_uri or 'a model'}")

    @app.middleware("http")
    async def count_and_log(request: HttpRequest, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        seconds = time.perf_counter() - start
        path = request.url.path if request.url.path in ("/predict", "/health", "/metrics") else "other"
        requests.labels(path, str(response.status_code)).inc()
        latency.labels(path).observe(seconds)
        log.info(json.dumps({"time": time.time(), "method": request.method, "path": request.url.path,
                             "status": response.status_code, "ms": round(seconds * 1000, 3),
                             "rows": response.headers.get("x-rows", "0")}))
        return response

    @app.exception_handler(RequestValidationError)
    async def name_the_field(request: HttpRequest, exc: RequestValidationError):
        problems = [{"field": "body", "problem": f"{e.get('msg', 'invalid JSON')} at character {e['loc'][-1]}"}
                    if e.get("type") == "json_invalid" else
                    {"field": field_name(e.get("loc", ())), "problem": e.get("msg", "invalid")}
                    for e in exc.errors()[:20]]
        first = problems[0] if problems else {"field": "body", "problem": "invalid request"}
        return JSONResponse(status_code=422, content={"error": f"{first['field']}: {first['problem']}",
                                                      "problems": problems})

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": model_uri}

    @app.post("/predict")
    def predict(body: PredictRequest) -> Response:
        frame = pd.DataFrame([f.model_dump() for f in body.flights], columns=features)
        frame = frame.astype({c: float for c in frame.columns if c not in ("carrier", "origin", "dep_hour")})
        probabilities = np.asarray(model.predict(frame), dtype=float)
        if probabilities.ndim == 2:
            probabilities = probabilities[:, -1]
        scored.inc(len(frame))
        payload = json.dumps({"probabilities": [round(float(p), 6) for p in probabilities]})
        return Response(payload, media_type="application/json", headers={"x-rows": str(len(frame))})

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


class ModelServer(LocalService):
    """The API serving ``model_uri`` (``models:/name/version``, ``runs:/…`` or a local folder) on 127.0.0.1;
    ``tracking_uri`` is where ``models:/`` names are looked up."""

    def __init__(self, model_uri: str, *, port: int = 0, tracking_uri: str | None = None,
                 log: Path | None = None) -> None:
        port = port or free_port()
        command = [sys.executable, "-m", "labkit.serving.api", "--port", str(port), "--model-uri", model_uri]
        env = {"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {}
        super().__init__(command, port=port, name="model API", env=env, log=log)
        self.model_uri = model_uri


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve an MLflow model behind labkit's REST API on 127.0.0.1.")
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    import mlflow
    import uvicorn

    from labkit.serving.tracking import quiet

    quiet()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    model = mlflow.pyfunc.load_model(args.model_uri)
    uvicorn.run(create_app(model, model_uri=args.model_uri), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
