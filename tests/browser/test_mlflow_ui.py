"""Lab 10's tracking server as a learner opens it: MLflow's own UI (served by the server, nothing fetched from
the internet) lists the lab's grid-search trials under their parent run. (MLflow's page asks for a resource its
own server does not have, a 404 in the console, so the console is not held to labkit's no-errors rule here.)"""

from __future__ import annotations

from conftest import SCREENSHOTS

from labkit.serving.tracking import TrackingServer, run

TRIALS = {"lr=0.05 leaves=15": 0.7067, "lr=0.05 leaves=63": 0.7274, "lr=0.2 leaves=15": 0.7213,
          "lr=0.2 leaves=63": 0.7316}


def test_mlflow_ui_lists_the_labs_runs(browser, tmp_path):
    import mlflow

    with TrackingServer(tmp_path / "mlflow") as tracking:
        experiment = mlflow.set_experiment("lab10-flight-delays")
        with run("grid search", {"train_months": [1, 2, 3, 4]}):
            for name, auc in TRIALS.items():
                with run(name, {"learning_rate": name.split()[0][3:], "max_leaf_nodes": name.split("=")[-1]},
                         nested=True):
                    mlflow.log_metric("validation_auc", auc)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        try:
            page.goto(f"{tracking.uri}/#/experiments/{experiment.experiment_id}/runs")
            parent = page.locator(".ag-row", has_text="grid search").first
            parent.wait_for(timeout=90_000)
            parent.locator("[col-id*='Run Name'] [role=img]").first.click()  # the nested trials, unfolded
            for name in TRIALS:
                page.locator(".ag-row", has_text=name).first.wait_for(timeout=60_000)
            close = page.get_by_role("button", name="Close")
            if close.count():
                close.first.click()  # MLflow's assistant panel
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "mlflow.png")
        finally:
            context.close()
