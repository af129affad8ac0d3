"""``labkit grade``: parallel, sandboxed, resumable autograding into nbgrader's own gradebook.

One grading run, module by module (the stages of one submission are :data:`STAGES`, listed once, in order):

1. **plan** (:mod:`labkit.grading.plan`): what every submission of the lab shares, read once;
2. **intake** (:mod:`labkit.grading.intake`) reads every learner's hand-in and merges it onto the
   instructor's source, restoring locked and test cells by grade id; the static scan
   (:mod:`labkit.grading.guard`) flags code that reaches for the grader;
3. **sandboxed kernel** (:mod:`labkit.grading.kernel`, :mod:`labkit.grading.sandbox`): ``workers`` threads
   each fork a kernel from the zygote into its own sandbox, with a referee armed before any learner code;
4. **execute**: every cell runs under per-cell and per-notebook timeouts, test cells through the referee
   (:mod:`labkit.grading.referee`), which reports their results over a signed channel
   (:mod:`labkit.grading.channel`);
5. **score** (:mod:`labkit.grading.scoring`): a test cell's score from its report, failing closed;
6. **gradebook and journal** (:mod:`labkit.grading.gradebook`): the main thread alone writes, one
   transaction per submission, so a grader killed at any moment (``kill -9``) loses at most the
   submissions in flight, and a re-run grades exactly those;
7. **feedback** (:mod:`labkit.grading.feedback`, through ``labkit report``): per-learner HTML with hidden
   tests removed and redacted from every output.

Each learner's hidden tests draw from their own seed (``LABKIT_GRADING_SEED``), fixed by learner and lab,
so regrades are deterministic.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from labkit.grading import cells, intake, sandbox
from labkit.grading.defang import defang
from labkit.grading.gradebook import Gradebook
from labkit.grading.kernel import KernelGone, SandboxedKernel
from labkit.grading.nbgrader import GradingError
from labkit.grading.plan import LabPlan, seed_for
from labkit.grading.results import Question, Result, Run
from labkit.grading.scoring import report_outputs, score_report
from labkit.grading.spark_server import SparkSupervisor
from labkit.jupyter import KERNEL_ENV
from labkit.spark_connect import DEFAULT_PORT

ENGINE_VERSION = "1"


# --------------------------------------------------------------------------- one submission

@dataclass
class _Context:
    """What every submission of one run shares."""

    plan: LabPlan
    zygote: sandbox.Zygote
    runtime: Path
    limits: sandbox.Limits
    spark: SparkSupervisor | None
    next_uid: Callable[[], int]
    hide: list[str] = field(default_factory=list)
    all_cells: bool = False


@dataclass
class Grading:
    """One submission on its way through :data:`STAGES`: each stage reads and fills it in."""

    sub: intake.Submission
    ctx: _Context
    result: Result
    notebook: nbformat.NotebookNode | None = None
    answers: dict[str, str] = field(default_factory=dict)
    stopped: str = ""  # why the kernel stopped early, for every question it did not reach
    done: bool = False  # nothing more to do: the later stages are skipped

    def fail_all(self, reason: str) -> None:
        """The submission cannot be graded at all: 0 on every question, with the reason."""
        self.result.problem = reason
        for q in self.result.questions.values():
            q.messages = [reason]
        self.notebook, self.done = None, True


_SKIPPED = nbformat.v4.new_output("stream", name="stdout", text="(a demo cell no graded cell needs: not run while "
                                                                 "grading)\n")


def take_in(g: Grading) -> None:
    """Stage 1, intake: the learner's answers merged onto the source (:mod:`labkit.grading.intake`)."""
    if g.sub.problems:
        return g.fail_all("; ".join(g.sub.problems))
    prepared = intake.prepare(g.sub.raw, g.ctx.plan.source, g.ctx.plan.release)
    g.result.warnings += prepared.warnings
    if prepared.fatal:
        return g.fail_all(prepared.fatal)
    g.notebook, g.answers = prepared.notebook, prepared.answers


def flag_suspicious_code(g: Grading) -> None:
    """Stage 2, the static scan (:func:`labkit.grading.guard.scan`) of the answers and of the learner's own
    cells (and lab cells they changed), and answers that call their own task's reference implementation
    (:mod:`labkit.grading.oracles`)."""
    from labkit.grading.guard import scan
    from labkit.grading.oracles import reference_calls

    released = {c.source for c in g.ctx.plan.release.cells}
    texts = list(g.answers.values()) + [c.source for c in g.notebook.cells if c.cell_type == "code"
                                        and not cells.nbgrader(c) and c.source not in released]
    for text in texts:
        g.result.flags += [f for f in scan(text) if f not in g.result.flags]
    for gid, text in g.answers.items():  # the reference its own hidden checks compare with
        used = reference_calls(text, g.ctx.plan.oracles.get(gid, set()), g.ctx.plan.oracle_names)
        flag = f"the reference its hidden checks compare with, in {gid} ({', '.join(used)})"
        if used and flag not in g.result.flags:
            g.result.flags.append(flag)


def mark_manual_answers(g: Grading) -> None:
    """Stage 3: a cell graded by hand needs an instructor when the learner answered it (nbgrader's rule:
    its checksum differs from the release's)."""
    from nbgrader.utils import compute_checksum

    released = {cells.grade_id(c): cells.nbgrader(c).get("checksum") for c in g.ctx.plan.release.cells}
    for cell in g.notebook.cells:
        gid = cells.grade_id(cell)
        if gid in g.ctx.plan.manual:
            g.result.questions[gid].needs_manual = compute_checksum(cell) != released.get(gid)


def run_in_sandbox(g: Grading) -> None:
    """Stages 4 and 5: a sandboxed kernel (:mod:`labkit.grading.kernel`) runs every cell, each test cell through
    the kernel's referee and scored from its signed report (:mod:`labkit.grading.scoring`); the kernel is
    always stopped. A kernel that dies or hangs keeps the points earned before."""
    ctx, plan = g.ctx, g.ctx.plan
    env = {**KERNEL_ENV, "NBGRADER_EXECUTION": "autograde", "PYTHONHASHSEED": "0",
           "LABKIT_GRADING_SEED": str(seed_for(plan.lab, g.sub.student))}
    spark_socket = None
    if ctx.spark is not None:
        env["LABKIT_SPARK_REMOTE"] = f"sc://127.0.0.1:{DEFAULT_PORT}"
        spark_socket, g.result.spark_generation = ctx.spark.socket()
    name = f"{os.getpid()}-{hashlib.sha256(g.sub.student.encode()).hexdigest()[:12]}-{secrets.token_hex(3)}"
    kernel = None
    try:
        kernel = SandboxedKernel(ctx.zygote, ctx.runtime, name, ctx.next_uid(), ctx.limits, env, plan,
                                 spark_socket, ctx.hide)
        kernel.arm()
        _run_cells(g, kernel)
    except KernelGone as exc:
        g.stopped = str(exc)
    except Exception as exc:  # noqa: BLE001 - a grading run must survive any one submission
        # the grader's own failure, not the learner's: not journaled, so the next run grades it again
        g.result.incomplete = True
        g.stopped = f"grading stopped: {type(exc).__name__}: {exc} (run labkit grade again to retry)"
    finally:
        if kernel is not None:
            if kernel.called_referee and "calls the grader's referee" not in g.result.flags:
                g.result.flags.append("calls the grader's referee")
            kernel.close()


def _run_cells(g: Grading, kernel: SandboxedKernel) -> None:
    ctx, plan, nb = g.ctx, g.ctx.plan, g.notebook
    deadline = time.monotonic() + ctx.limits.notebook_timeout
    skip = set() if ctx.all_cells else plan.skipped_demos(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if index in skip:
            cell.outputs, cell.execution_count = [_SKIPPED], None
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KernelGone(f"the notebook ran longer than {ctx.limits.notebook_timeout:.0f} s in total")
        timeout = min(ctx.limits.cell_timeout, remaining)
        if cells.grade_id(cell) in plan.tests:
            _score_test_cell(g, kernel, cell, timeout)
        else:
            cell.outputs, cell.execution_count = kernel.run(cell.source, timeout=timeout)


def _score_test_cell(g: Grading, kernel: SandboxedKernel, cell, timeout: float) -> None:
    gid, plan, result = cells.grade_id(cell), g.ctx.plan, g.result
    report, problem, shown = kernel.run_test(f"{plan.prelude}\n{cell.source}" if plan.prelude else cell.source,
                                             timeout=timeout)
    q = result.questions[gid] = score_report(gid, plan.points[gid], report, problem, gid in plan.checks_cells)
    # what reached the kernel's stderr at the file-descriptor level (native libraries) is shown too
    q.warning = (q.warning + "".join(o.get("text", "") for o in shown if o.get("output_type") == "stream"
                                     and o.get("name") == "stderr"))[-2000:]
    cell.outputs, cell.execution_count = report_outputs(report, q, shown), None
    result.flags += [f for f in (report or {}).get("flags", []) if f not in result.flags]
    if (problem or (report or {}).get("taint")) and "score tampering" not in result.flags:
        result.flags.append("score tampering")


def explain_unreached(g: Grading) -> None:
    """Stage 6: every test the kernel did not reach scores 0 and says why."""
    if not g.stopped:
        return
    g.result.problem = g.stopped
    reached = True
    for cell in g.notebook.cells:
        gid = cells.grade_id(cell)
        if gid in g.ctx.plan.tests and not cell.get("outputs") and cell.get("execution_count") is None:
            reached = False
        if gid in g.ctx.plan.tests and not reached:
            g.result.questions[gid] = Question(gid, g.ctx.plan.points[gid], 0.0, [f"not run: {g.stopped}"])
    g.notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"**labkit: grading stopped early:** {g.stopped}"))


# What grading one submission does, in order, as nbgrader lists its autograde preprocessors. The main thread
# then writes the result to the gradebook and journal (:mod:`labkit.grading.gradebook`), and ``labkit report``
# writes the feedback (:mod:`labkit.grading.feedback`).
STAGES: tuple[Callable[[Grading], None], ...] = (take_in, flag_suspicious_code, mark_manual_answers, run_in_sandbox,
                                                 explain_unreached)


def grade_submission(sub: intake.Submission, ctx: _Context) -> tuple[Result, nbformat.NotebookNode | None]:
    """Grade one learner through :data:`STAGES`: never raises; whatever happens is in the returned
    :class:`Result` (and the executed notebook, ``None`` if it could not be read)."""
    start = time.perf_counter()
    questions = {gid: Question(gid, pts) for gid, pts in ctx.plan.points.items()}
    g = Grading(sub, ctx, Result(sub.student, ctx.plan.lab, questions, list(sub.warnings),
                                 received=str(sub.collected.get("received", "")),
                                 late_fraction=float(sub.collected.get("late_fraction", 0.0))))
    for stage in STAGES:
        stage(g)
        if g.done:
            break
    g.result.seconds = time.perf_counter() - start
    return g.result, g.notebook


# --------------------------------------------------------------------------- the run

def _atomic_write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def _runtime_base() -> Path:
    base = Path("/run/labkit") if sandbox.isolation()["separate_user"] else Path(tempfile.gettempdir())
    base.mkdir(mode=0o755, exist_ok=True)
    return base


def _runtime_dir() -> Path:
    """This run's folder: named after the grader's pid, so that a later run can tell it was left behind."""
    path = Path(tempfile.mkdtemp(prefix=f"grade-{os.getpid()}-", dir=_runtime_base()))
    path.chmod(0o711)
    return path


def _received(result: Result) -> datetime | None:
    """When the exchange received the submission, as nbgrader's gradebook stores it (naive UTC)."""
    if not result.received:
        return None
    return datetime.fromisoformat(result.received).astimezone(UTC).replace(tzinfo=None)


def grade(lab: str, submissions: Path, *, workers: int | None = None, limits: sandbox.Limits | None = None,
          force: bool = False, figures: bool = False, all_cells: bool = False, progress: bool = True,
          root: Path | None = None) -> Run:
    """Grade every submission of ``lab`` in the folder ``submissions`` into the course's gradebook.

    ``workers`` kernels run side by side (default: one per core). Submissions whose result is already in
    the gradebook for the same bytes, lab source and limits are skipped unless ``force``. Figures are
    drawn but not rendered into the graded notebooks unless ``figures`` (rendering is a large share of
    a lab's run time, and no test reads a PNG). Cells the lab tags ``demo`` (illustrations no graded
    cell needs) are skipped unless ``all_cells``; see :mod:`labkit.grading.slicing`.
    """
    start = time.perf_counter()
    limits = limits or sandbox.Limits()
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise GradingError(f"workers must be at least 1, got {workers}.")
    plan = LabPlan.load(lab)
    subs = intake.discover(Path(submissions), plan.notebook_name) if Path(submissions).is_dir() else None
    if subs is None:
        raise GradingError(f"{submissions} is not a folder of submissions.")
    if not subs:
        raise GradingError(f"no submissions in {submissions}: expected <learner>/{plan.notebook_name} or "
                           "<learner>.ipynb.")
    config = json.dumps([plan.digest, asdict(limits), ENGINE_VERSION, all_cells])
    book = Gradebook(lab, root)
    nb_api = book.api
    done = {} if force else book.journal()
    results: list[Result] = []
    todo = []
    for sub in subs:
        digest = hashlib.sha256((sub.digest + config).encode()).hexdigest()
        autograded = Path(nb_api.coursedir.format_path(nb_api.coursedir.autograded_directory, sub.student, lab))
        if done.get(sub.student) == digest and (autograded / plan.notebook_name).is_file():
            stored = book.stored(sub.student)
            if stored is not None:
                stored.skipped = True
                results.append(stored)
                continue
        todo.append((sub, digest))
    sandbox.reap_dead_runs(_runtime_base())  # what crashed runs left: processes, cgroups, sockets, folders
    runtime = _runtime_dir()
    uids = iter(range(*sandbox.uid_range()))
    uid_lock = threading.Lock()

    def next_uid() -> int:
        with uid_lock:
            return next(uids)

    zygote = spark = None
    bar = None
    try:
        if todo:
            zygote = sandbox.Zygote(plan.preload(), warm=plan.warm(), figures=figures)
            if plan.spark:
                spark = SparkSupervisor(zygote, runtime, next_uid)
            # the submissions folder too: a learner must not read (or overwrite) another's notebook
            ctx = _Context(plan, zygote, runtime, limits, spark, next_uid, [str(Path(submissions).resolve())],
                           all_cells)
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=len(todo), desc=f"grading {lab}", unit="submission", ascii=True)

            trusted = {c.source for c in plan.source.cells if c.cell_type == "markdown"}

            def keep(result: Result, executed: nbformat.NotebookNode | None) -> None:
                autograded = Path(nb_api.coursedir.format_path(nb_api.coursedir.autograded_directory,
                                                              result.student, lab))
                shown = defang(executed or _blank_from(plan), trusted)  # the formgrader renders it for the instructor
                _atomic_write(autograded / plan.notebook_name, nbformat.writes(shown))
                book.record(result, plan.notebook_name, timestamp=_received(result),
                            late_penalty=result.late_penalty)
                results.append(result)
                if bar is not None:
                    bar.update(1)

            suspects = []
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labkit-grade") as pool:
                futures = {pool.submit(_grade_one, sub, digest, ctx): (sub, digest) for sub, digest in todo}
                for future in as_completed(futures):
                    result, executed = future.result()
                    trouble = _trouble(result)
                    if spark is not None and (not spark.vouch(result.spark_generation, suspicious=trouble)
                                              or trouble):
                        # ran against a broken server, or met a Spark error another learner's UDF may have caused
                        # (killed Python workers recover by themselves): not journaled before an alone regrade
                        suspects.append(futures[future])
                        continue
                    keep(result, executed)
            for sub, digest in suspects:
                keep(*_regrade_alone(sub, digest, ctx))
    finally:
        if bar is not None:
            bar.close()
        if spark is not None:
            spark.close()
        if zygote is not None:
            zygote.close()
        book.close()
        sandbox.reap_run()  # a submission's background process outlives its kernel only until here
        if not os.environ.get("LABKIT_KEEP_SANDBOX"):
            shutil.rmtree(runtime, ignore_errors=True)
    order = {s.student: i for i, s in enumerate(subs)}
    results.sort(key=lambda r: order.get(r.student, 0))
    return Run(lab, results, time.perf_counter() - start, workers, sandbox.describe_isolation(),
               spark.restarts if spark is not None else 0)


def _trouble(result: Result) -> bool:
    """Whether a result hints that the shared Spark server failed: a problem, or a Spark error in a message."""
    words = ("Spark", "grpc", "UNAVAILABLE", "StatusCode", "Connect")
    return bool(result.problem) or any(w in m for q in result.questions.values() for m in q.messages for w in words)


BROKE_SPARK = "broke the shared Spark server"


def _regrade_alone(sub: intake.Submission, digest: str, ctx: _Context) -> tuple[Result, nbformat.NotebookNode | None]:
    """Regrade a submission that ran while the shared Spark server broke, alone, on a healthy server: if the
    server breaks again, this submission broke it, keeps what this run gives it and is flagged; otherwise this
    run's grade is its grade (nobody loses a point to someone else's UDF)."""
    if not ctx.spark.healthy():
        ctx.spark.restart()
    result, executed = _grade_one(sub, digest, ctx)
    if not ctx.spark.healthy():
        result.problem = (f"your Spark code {BROKE_SPARK} (it was restarted; no one else lost a point). "
                          + result.problem).strip()
        if BROKE_SPARK not in result.flags:
            result.flags.append(BROKE_SPARK)
        ctx.spark.restart()
    return result, executed


def _blank_from(plan: LabPlan) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(json.dumps(plan.release)))
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("**labkit: this submission could not be graded.**"))
    return nb


def _grade_one(sub: intake.Submission, digest: str, ctx: _Context):
    result, executed = grade_submission(sub, ctx)
    if result.incomplete:  # the grader failed, not the submission (a transient fault): once more, from scratch
        result, executed = grade_submission(sub, ctx)
    result.digest = "" if result.incomplete else digest
    return result, executed


@dataclass
class Grade:
    """One learner's autograded result for a lab."""

    student: str
    lab: str
    score: float
    max_score: float
    ok: bool
    message: str = ""


def grade_directory(lab: str, submissions: Path, *, root: Path | None = None, force: bool = True,
                    progress: bool = False) -> list[Grade]:
    """Grade every submission in ``submissions`` (one ``<learner>/`` folder or ``<learner>.ipynb`` each) with
    labkit's sandboxed parallel engine (:func:`labkit.grading.engine.grade`) and return one :class:`Grade`
    per learner. (``benchmarks/grading.py`` times stock ``nbgrader autograde`` against it.)"""
    run = grade(lab, Path(submissions), force=force, progress=progress, root=root)
    return [Grade(r.student, lab, r.score, r.max_score, not r.problem, r.problem) for r in run.results]
