"""Run a tuning experiment: a scheduler decides, an executor trains, the experiment log records everything.

:func:`tune` keeps every worker of the executor busy with the scheduler's jobs, feeds each reported metric back
through ``on_result``, stores checkpoints of paused trials (in memory, or as files in ``checkpoint_dir``) so a
promoted trial resumes where it stopped, and returns an :class:`Experiment` whose ``log`` is a tidy table: one
row per reported metric (``event="result"``) and one per decision (``event="decision"``), each with the trial's
configuration at that moment.

>>> from labkit.hpo import ASHA, RandomSearcher, uniform
>>> def trainable(config, *, start, stop, checkpoint, seed):
...     return [1 - 1 / (1 + config["x"] * step) for step in range(start + 1, stop + 1)], None
>>> exp = tune(trainable, ASHA(RandomSearcher({"x": uniform(0, 1)}, seed=0), n_trials=9, max_resource=9),
...            progress=False)
>>> exp.compute, len(exp.trials), exp.best_config == exp.trials.loc[exp.best_trial, "config"]
(23, 9, True)
"""

from __future__ import annotations

import os
import pickle
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.hpo.executors import Executor, JobResult, SerialExecutor, Trainable
from labkit.hpo.scheduler import Job, Scheduler
from labkit.hpo.stopping import Decision


class CheckpointStore:
    """The latest checkpoint of each trial with the step it was taken at; files in ``directory`` if given."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._memory: dict[int, tuple[int, Any]] = {}

    def _path(self, trial: int) -> Path:
        assert self.directory is not None
        return self.directory / f"trial-{trial:05d}.ckpt"

    def save(self, trial: int, step: int, checkpoint: Any) -> None:
        if self.directory is None:
            self._memory[trial] = (step, checkpoint)
            return
        tmp = self._path(trial).with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps((step, checkpoint)))
        os.replace(tmp, self._path(trial))  # atomic: a crash never leaves half a checkpoint

    def copy(self, source: int, target: int, step: int) -> None:
        """Give ``target`` the checkpoint ``source`` took at ``step``."""
        saved = self.load(source)
        if saved is None or saved[0] != step:
            raise RuntimeError(f"trial {target} should copy trial {source}'s checkpoint at step {step}, but that "
                               f"is at {None if saved is None else saved[0]}.")
        self.save(target, step, saved[1])

    def load(self, trial: int) -> tuple[int, Any] | None:
        if self.directory is None:
            return self._memory.get(trial)
        path = self._path(trial)
        return pickle.loads(path.read_bytes()) if path.exists() else None


def trial_seed(seed: int, trial: int) -> int:
    """A per-trial seed that does not depend on which worker runs the trial or when."""
    return int(np.random.SeedSequence([seed, trial]).generate_state(1)[0])


@dataclass
class Experiment:
    """The outcome of :func:`tune`."""

    log: pd.DataFrame
    jobs: pd.DataFrame
    scheduler: Scheduler
    n_workers: int
    wall_time: float
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return self.scheduler.mode

    @property
    def compute(self) -> int:
        """Resource spent (epochs trained), summed over all jobs."""
        return int((self.jobs["stop"] - self.jobs["start"]).sum()) if len(self.jobs) else 0

    @property
    def utilisation(self) -> float:
        """Busy worker-time over ``n_workers × wall time``: 1.0 means no worker ever idled."""
        if not len(self.jobs) or self.wall_time <= 0:
            return 0.0
        return float((self.jobs["finished"] - self.jobs["started"]).sum() / (self.n_workers * self.wall_time))

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: its (latest) config, the resource it reached, its last metric and final status."""
        rows = []
        for trial, state in self.scheduler.trials.items():
            decisions = self.log[(self.log["trial"] == trial) & (self.log["event"] == "decision")]
            status = decisions["decision"].iloc[-1] if len(decisions) else "running"
            rows.append({"trial": trial, "config": state.config, "step": state.step, "metric": state.metric,
                         "status": "error" if trial in self.errors else status})
        return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()

    @property
    def best_trial(self) -> int | None:
        best = self.scheduler.best()
        return None if best is None else best[0]

    @property
    def best_metric(self) -> float | None:
        best = self.scheduler.best()
        return None if best is None else best[1]

    @property
    def best_config(self) -> dict[str, Any] | None:
        trial = self.best_trial
        return None if trial is None else dict(self.scheduler.trials[trial].config)

    def results(self) -> pd.DataFrame:
        """Only the metric rows of the log, with hyperparameters as columns."""
        rows = self.log[self.log["event"] == "result"].reset_index(drop=True)
        return pd.concat([rows.drop(columns=["config"]), pd.json_normalize(rows["config"].tolist())], axis=1)

    def best_so_far(self) -> pd.DataFrame:
        """Best metric among full-resource results vs the compute spent when it arrived."""
        rows = self.log[self.log["event"] == "result"]
        full = rows[rows["step"] >= self.scheduler.max_resource]
        best = full["metric"].cummax() if self.mode == "max" else full["metric"].cummin()
        return pd.DataFrame({"compute": full["compute"].to_numpy(), "best": best.to_numpy()})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the log as CSV (or Parquet for a ``.parquet`` path), configs as JSON text."""
        path = Path(path)
        out = self.log.assign(config=self.log["config"].map(_json))
        out.to_parquet(path, index=False) if path.suffix == ".parquet" else out.to_csv(path, index=False)
        return path

    def summary(self) -> str:
        counts = self.trials["status"].value_counts().to_dict() if len(self.trials) else {}
        return (f"{type(self.scheduler).__name__}: {len(self.scheduler.trials)} trials, {self.compute} resource units "
                f"in {self.wall_time:.1f} s on {self.n_workers} worker(s) (utilisation {self.utilisation:.0%}); "
                f"best {self.best_metric:.4g} by trial {self.best_trial} {self.best_config}; statuses {counts}")


def _json(config: dict) -> str:
    import json

    return json.dumps(config, default=float, sort_keys=True)


def tune(trainable: Trainable, scheduler: Scheduler, *, executor: Executor | None = None, seed: int = 0,
         checkpoint_dir: str | os.PathLike | None = None, progress: bool = True, live_table: bool | None = None
         ) -> Experiment:
    """Run ``scheduler``'s experiment on ``executor`` (default: in this process) and return the :class:`Experiment`.

    ``seed`` fixes every trial's seed (:func:`trial_seed`); with a deterministic scheduler and trainable the same
    seed gives the same experiment on any executor. ``live_table`` (default: in JupyterLab) shows the leading
    trials while the experiment runs.
    """
    if not isinstance(scheduler, Scheduler):
        raise ValueError(f"scheduler must be a labkit.hpo scheduler (ASHA, SuccessiveHalving, …), "
                         f"got {type(scheduler).__name__}.")
    if not callable(trainable):
        raise ValueError("trainable must be a callable trainable(config, *, start, stop, checkpoint, seed).")
    own_executor = executor is None
    executor = executor or SerialExecutor()
    store = CheckpointStore(checkpoint_dir)
    log: list[dict] = []
    jobs: list[dict] = []
    errors: dict[int, str] = {}
    running: dict[Future, Job] = {}
    compute = 0
    t0 = time.time()
    bar = _progress_bar(progress)
    table = _LiveTable(live_table)

    def note_events() -> None:
        for event in scheduler.events[note_events.seen:]:
            log.append({"event": "decision", "trial": event.trial, "step": event.step, "metric": np.nan,
                        "decision": event.decision.value, "note": event.note, "compute": compute,
                        "time": time.time() - t0, "worker": "",
                        "config": dict(scheduler.trials[event.trial].config)})
        note_events.seen = len(scheduler.events)
    note_events.seen = 0

    def fill() -> None:
        while len(running) < executor.n_workers:
            job = scheduler.suggest()
            note_events()
            if job is None:
                return
            checkpoint = None
            if job.start > 0:
                saved = store.load(job.trial)
                if saved is None or saved[0] != job.start:
                    raise RuntimeError(f"trial {job.trial} should resume at step {job.start}, but its checkpoint is at "
                                       f"{None if saved is None else saved[0]}: the scheduler and store disagree.")
                checkpoint = saved[1]
            running[executor.submit(trainable, job, checkpoint=checkpoint, seed=trial_seed(seed, job.trial))] = job

    try:
        fill()
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f].trial):
                job = running.pop(future)
                result = _result_of(future, job)
                jobs.append({"trial": job.trial, "start": job.start, "stop": job.stop, "started": result.started,
                             "finished": result.finished, "worker": result.worker})
                if result.error:
                    errors[job.trial] = result.error
                    last_line = result.error.strip().splitlines()[-1]
                    scheduler.emit(job.trial, job.start, Decision.STOP, f"error: {last_line}")
                    note_events()
                else:
                    store.save(job.trial, job.stop, result.checkpoint)
                    stopped = False
                    for step, metric in enumerate(result.metrics, start=job.start + 1):
                        compute += 1
                        log.append({"event": "result", "trial": job.trial, "step": step, "metric": metric,
                                    "decision": "", "note": "", "compute": compute, "time": result.finished - t0,
                                    "worker": result.worker, "config": dict(job.config)})
                        if not stopped:
                            stopped = scheduler.on_result(job.trial, step, metric) is Decision.STOP
                            note_events()
                            for trial, donor, at in scheduler.clones:  # PBT: copy before the donor moves on
                                store.copy(donor, trial, at)
                            scheduler.clones.clear()
                bar.update(1)
                bar.set_postfix_str(_postfix(scheduler), refresh=False)
                table.update(scheduler)
                fill()
        scheduler.finish()
        note_events()
    finally:
        bar.close()
        if own_executor:
            executor.shutdown()
    if errors and len(errors) == len(scheduler.trials):
        first = next(iter(errors.values()))
        raise RuntimeError(f"every trial failed; the first error was:\n{first}")
    frame = pd.DataFrame(log, columns=["event", "trial", "step", "metric", "decision", "note", "compute", "time",
                                       "worker", "config"])
    return Experiment(frame, pd.DataFrame(jobs, columns=["trial", "start", "stop", "started", "finished", "worker"]),
                      scheduler, executor.n_workers, time.time() - t0, errors)


def _result_of(future: Future, job: Job) -> JobResult:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a worker process died (killed, out of memory)
        now = time.time()
        return JobResult(job, [], None, now, now, "", error=f"the worker running trial {job.trial} died: {exc!r}")


def _postfix(scheduler: Scheduler) -> str:
    best = scheduler.best()
    return "" if best is None else f"best {best[1]:.4g} (trial {best[0]} at {scheduler.trials[best[0]].step})"


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def set_postfix_str(self, text: str, refresh: bool = True) -> None: ...
    def close(self) -> None: ...


def _progress_bar(enabled: bool):
    if not enabled:
        return _NoBar()
    from labkit import progress

    return progress(desc="jobs")


class _LiveTable:
    """The five leading trials, redrawn at most every second (JupyterLab only)."""

    def __init__(self, enabled: bool | None) -> None:
        from labkit import _in_notebook, headless

        self.enabled = (_in_notebook() and not headless()) if enabled is None else enabled
        self.handle = None
        self.last = 0.0

    def update(self, scheduler: Scheduler) -> None:
        if not self.enabled or time.time() - self.last < 1.0:
            return
        from IPython.display import display

        self.last = time.time()
        rows = [{"trial": t, "step": s.step, "metric": s.metric, **s.config}
                for t, s in scheduler.trials.items() if s.metric is not None]
        if not rows:
            return
        frame = pd.DataFrame(rows).set_index("trial")
        frame = frame.sort_values(["step", "metric"], ascending=[False, scheduler.mode == "min"]).head(5)
        if self.handle is None:
            self.handle = display(frame, display_id=True)
        else:
            self.handle.update(frame)


__all__ = ["tune", "Experiment", "CheckpointStore", "trial_seed"]
