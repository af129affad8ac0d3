"""The served model, for real: MLflow's tracking server, a registered model, the API as its own process.

Every server is started on a free port on 127.0.0.1 and stopped by the fixture that started it, also when a test
fails. The API's answers are checked against the scikit-learn pipeline it serves; bad requests each get a 422
that names the field, and the server keeps answering afterwards.
"""

import json
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from labkit.serving.api import MAX_BATCH, ModelServer
from labkit.serving.flights import FEATURES, LABEL, delay_model, delay_table
from labkit.serving.load import load_test
from labkit.serving.process import LocalService, ServiceError, free_port, port_taken
from labkit.serving.tracking import TrackingServer, log_model, run, runs_table

pytestmark = pytest.mark.slow


def _post(url: str, raw: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, raw, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A delay model trained on a sample of January, logged and registered in a fresh tracking server, and the
    API serving its version 1."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    table = delay_table(months=[1], sample=0.1, seed=0)
    model = delay_model(max_iter=30).fit(table[FEATURES], table[LABEL])
    with TrackingServer(root) as tracking:
        mlflow.set_experiment("tests")
        with run("january", {"max_iter": 30}):
            mlflow.log_metric("rows", len(table))
            info = log_model(model, table[FEATURES].head(3))
        version = mlflow.register_model(info.model_uri, "flight-delays").version
        with ModelServer(f"models:/flight-delays/{version}", tracking_uri=tracking.uri,
                         log=root / "api.log") as api:
            yield {"api": api, "tracking": tracking, "model": model, "table": table, "log": root / "api.log"}
    assert not port_taken(api.port) and not port_taken(tracking.port), "both servers must be stopped"


def test_the_run_is_tracked_and_the_model_registered(served):
    import mlflow

    table = runs_table("tests", ["rows"], ["max_iter"])
    assert table[["run", "max_iter", "rows"]].values.tolist() == [["january", "30", float(len(served["table"]))]]
    assert mlflow.MlflowClient().get_registered_model("flight-delays").name == "flight-delays"


def test_predictions_are_the_pipelines_probabilities(served):
    rows = served["table"][FEATURES].head(40)
    body = {"flights": json.loads(rows.to_json(orient="records"))}
    status, answer = _post(served["api"].url("predict"), json.dumps(body).encode())
    assert status == 200
    expected = served["model"].predict_proba(rows)[:, 1]
    assert np.allclose(answer["probabilities"], expected, atol=1e-6)


GOOD = {"carrier": "UA", "origin": "EWR", "dep_hour": 17, "distance": 1400.0, "temp": 35.1, "wind_speed": 10.4,
        "precip": 0.0, "visib": 10.0}


@pytest.mark.parametrize(("raw", "field"), [
    (json.dumps({"flights": [{k: v for k, v in GOOD.items() if k != "origin"}]}), "flights[0].origin"),
    (json.dumps({"flights": [{**GOOD, "dep_hour": "late"}]}), "flights[0].dep_hour"),
    (json.dumps({"flights": [{**GOOD, "dep_hour": 24}]}), "flights[0].dep_hour"),
    (json.dumps({"flights": [{**GOOD, "temp": float("nan")}]}), "flights[0].temp"),
    (json.dumps({"flights": [{**GOOD, "distance": -3}]}), "flights[0].distance"),
    (json.dumps({"flights": [GOOD, {**GOOD, "seats": 180}]}), "flights[1].seats"),
    (json.dumps({"flights": []}), "flights"),
    (json.dumps({"flights": [GOOD] * (MAX_BATCH + 1)}), "flights"),
    (json.dumps([GOOD]), "body"),
    ('{"flights": [', "body"),
    ("", "body"),
])
def test_bad_input_gets_a_422_naming_the_field_and_the_server_stays_up(served, raw, field):
    status, answer = _post(served["api"].url("predict"), raw.encode())
    assert status == 422, answer
    assert answer["error"].startswith(field), answer
    assert served["api"].healthy()
    assert _post(served["api"].url("predict"), json.dumps({"flights": [GOOD]}).encode())[0] == 200


def test_metrics_count_requests_and_rows_in_prometheus_format(served):
    def counts() -> tuple[float, float]:
        with urllib.request.urlopen(served["api"].url("metrics"), timeout=10) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        ok = sum(s.value for s in families["labkit_requests"].samples
                 if s.name == "labkit_requests_total" and s.labels == {"path": "/predict", "status": "200"})
        rows = sum(s.value for s in families["labkit_rows_scored"].samples if s.name == "labkit_rows_scored_total")
        return ok, rows

    before = counts()
    for size in (1, 5, 7):
        assert _post(served["api"].url("predict"), json.dumps({"flights": [GOOD] * size}).encode())[0] == 200
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (3, 13)


def test_every_request_is_logged_as_one_json_line(served):
    _post(served["api"].url("predict"), json.dumps({"flights": [GOOD] * 2}).encode())
    lines = [json.loads(line) for line in served["log"].read_text().splitlines() if line.startswith("{")]
    last = [line for line in lines if line["path"] == "/predict" and line["status"] == 200][-1]
    assert last["rows"] == "2" and last["ms"] > 0


def test_a_bounded_load_test_counts_every_request(served):
    result = load_test(served["api"].url("predict"), {"flights": [GOOD] * 8}, clients=3, requests=31,
                       rows_per_request=8)
    assert result.latencies.size == 31 and result.errors == 0
    assert result.p50 <= result.p95 <= result.p99 <= result.latencies.max()
    assert result.rows_per_second == pytest.approx(8 * 31 / result.seconds)


def test_a_load_test_refuses_a_remote_target():
    with pytest.raises(ValueError, match="only targets http://127.0.0.1"):
        load_test("http://example.org/predict", {})


def _file_server(port: int) -> LocalService:
    return LocalService([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port=port,
                        name="file server", health_path="")


def test_a_taken_port_gets_a_clear_message_and_a_dead_server_is_reported(tmp_path):
    with _file_server(free_port()) as holder:
        with pytest.raises(ServiceError, match=f"port {holder.port} on 127.0.0.1 is taken.*port=0"):
            LocalService(["true"], port=holder.port, name="second").start()
        with pytest.raises(ServiceError, match="taken"):
            TrackingServer(tmp_path, port=holder.port).start()
    with pytest.raises(ServiceError, match="exited with code 3 while starting"):
        LocalService([sys.executable, "-c", "raise SystemExit(3)"], port=free_port(), name="broken").start()


def test_a_server_is_stopped_when_the_python_that_started_it_exits():
    """No ``stop()``, no ``with``: the interpreter's exit stops it (a notebook kernel that is shut down)."""
    port = free_port()
    script = ("import sys\nfrom labkit.serving.process import LocalService\n"
              f"LocalService([sys.executable, '-m', 'http.server', '{port}', '--bind', '127.0.0.1'], port={port}, "
              "name='files', health_path='').start()\nprint('up')")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "up", out.stderr
    assert not port_taken(port)
