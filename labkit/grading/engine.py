"""``labkit grade``: parallel, sandboxed, resumable autograding into nbgrader's own gradebook.

One grading run:

1. **intake** (:mod:`labkit.grading.intake`) reads every learner's hand-in and merges it onto the
   instructor's source, restoring locked and test cells by grade id;
2. ``workers`` threads each take the next submission, fork a sandboxed kernel from the zygote
   (:mod:`labkit.grading.sandbox`) and run its cells under per-cell and per-notebook timeouts. Before each
   test cell the guard (:mod:`labkit.grading.guard`) undoes the learner's monkeypatches;
3. each test cell's score is its ``checks.score()`` value, as nbgrader reads it, except that a
   warning on stderr is shown and not penalised, and a kernel that dies or hangs keeps the points earned
   before, with the reason on every question it did not reach;
4. the main thread alone writes the gradebook: one transaction per submission holds its grades and its
   journal entry, so a grader killed at any moment (``kill -9``) loses at most the submissions in flight,
   and a re-run grades exactly those (the journal keys each result on the submission's bytes, the lab's
   source and the limits);
5. it writes ``grading/autograded/<learner>/<lab>/`` (for formgrader) and per-learner feedback HTML in
   ``grading/feedback/<learner>/<lab>/``, with hidden tests removed and redacted from every output.

Each learner's hidden tests draw from their own seed (``LABKIT_GRADING_SEED``), fixed by learner and lab,
so regrades are deterministic.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from labkit.grading import channel, intake, sandbox, slicing
from labkit.grading.nbgrader import GradingError, api, lab_notebook
from labkit.jupyter import KERNEL_ENV

ENGINE_VERSION = "1"
_ARM = ("import warnings as _w, labkit.grading.referee as _r; _r.arm(); "
        "_w.filterwarnings('ignore', message='.*non-interactive.*'); del _w, _r")
NO_REPORT = "no score reported: the notebook changed how cells run or display"


@dataclass
class Question:
    """One graded cell's result."""

    grade_id: str
    points: float
    score: float = 0.0
    messages: list[str] = field(default_factory=list)
    warning: str = ""


@dataclass
class Result:
    """One learner's graded submission of one lab."""

    student: str
    lab: str
    questions: dict[str, Question]
    warnings: list[str] = field(default_factory=list)
    problem: str = ""
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False
    digest: str = ""
    incomplete: bool = False  # the grader failed, not the submission: a rerun grades it again

    @property
    def score(self) -> float:
        return round(sum(q.score for q in self.questions.values()), 4)

    @property
    def max_score(self) -> float:
        return round(sum(q.points for q in self.questions.values()), 4)


@dataclass
class Run:
    """What ``labkit grade`` did: the results, and how long it took."""

    lab: str
    results: list[Result]
    seconds: float
    workers: int
    isolation: str

    @property
    def graded(self) -> list[Result]:
        return [r for r in self.results if not r.skipped]

    def summary(self) -> str:
        n, done = len(self.results), len(self.graded)
        scores = [r.score for r in self.results]
        full = self.results[0].max_score if self.results else 0
        text = (f"{self.lab}: {n} submission(s), {done} graded, {n - done} already in the gradebook; "
                f"{self.seconds:.1f} s with {self.workers} worker(s)")
        if scores:
            text += f"; mean {sum(scores) / n:.2f} / {full:g}"
        problems = sum(bool(r.problem) for r in self.results)
        flagged = sum(bool(r.flags) for r in self.results)
        if problems:
            text += f"; {problems} with a problem"
        if flagged:
            text += f"; {flagged} flagged for review"
        incomplete = sum(r.incomplete for r in self.results)
        if incomplete:
            text += f"; {incomplete} stopped by a grader error: run labkit grade again to retry them"
        return text + "\n" + self.isolation


# --------------------------------------------------------------------------- the lab being graded

@dataclass
class LabPlan:
    """Everything about one lab that every submission's grading shares."""

    lab: str
    source: nbformat.NotebookNode
    release: nbformat.NotebookNode
    notebook_name: str
    release_files: list[Path]
    points: dict[str, float]
    tests: set[str]
    hidden: list[str]
    digest: str
    spark: bool
    demos: frozenset[str] = frozenset()  # sources of the release's cells tagged ``demo``
    checks_cells: frozenset[str] = frozenset()  # test cells scored by ``Checks`` (fail closed without a report)

    @classmethod
    def load(cls, lab: str) -> LabPlan:
        source_path, release_path = lab_notebook(lab), lab_notebook(lab, released=True)
        source = nbformat.read(source_path, as_version=4)
        release = nbformat.read(release_path, as_version=4)
        points, tests = {}, set()
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                points[meta["grade_id"]] = float(meta.get("points", 0))
                if cell.cell_type == "code" and not meta.get("solution"):
                    tests.add(meta["grade_id"])
        files = sorted(p for p in release_path.parent.rglob("*") if p.is_file() and p != release_path
                       and not any(part.startswith(".") for part in p.relative_to(release_path.parent).parts))
        text = "".join(c.source for c in source.cells if c.cell_type == "code")
        digest = hashlib.sha256(source_path.read_bytes() + release_path.read_bytes()).hexdigest()
        demos = frozenset(c.source for c in release.cells if c.cell_type == "code" and slicing.is_demo(c))
        # a shared Spark server only for labs whose graded path uses Spark (a demo needing it for one learner
        # starts its own session in that learner's sandbox)
        graded_text = "".join(c.source for c in source.cells if c.cell_type == "code" and not slicing.is_demo(c))
        checks_cells = frozenset(c.metadata["nbgrader"]["grade_id"] for c in source.cells
                                 if c.metadata.get("nbgrader", {}).get("grade_id") in tests and "Checks(" in c.source)
        return cls(lab, source, release, release_path.name, files, points, tests,
                   intake.hidden_lines(source, release), digest,
                   "get_spark(" in graded_text and "run_on_spark" not in text, demos, checks_cells)

    def skipped_demos(self, nb: nbformat.NotebookNode) -> set[int]:
        """Indices (into ``nb.cells``) of the demo cells grading ``nb`` can skip: tagged ``demo`` in the
        release (a learner's cell counts when its source is a release demo's, unedited), and read by no cell
        that runs (see :mod:`labkit.grading.slicing`)."""
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        demos = {k for k, i in enumerate(code)
                 if nb.cells[i].source in self.demos and not nb.cells[i].metadata.get("nbgrader", {}).get("grade_id")}
        return {code[k] for k in slicing.skippable([nb.cells[i].source for i in code], demos)}

    def preload(self) -> list[str]:
        return sandbox.preload_modules([c.source for c in self.source.cells if c.cell_type == "code"])

    def warm(self) -> list[str]:
        """The cached dataset loaders this lab calls: the zygote runs them once for every kernel."""
        from labkit.datasets import CACHED_LOADERS

        text = "".join(c.source for c in self.source.cells if c.cell_type == "code")
        return [name for name in CACHED_LOADERS if f"{name}(" in text]


def seed_for(lab: str, student: str) -> int:
    """The hidden tests' seed of one learner's lab: fixed, so that a regrade gives the same grade.

    >>> seed_for("04_metrics", "ada") == seed_for("04_metrics", "ada") != seed_for("04_metrics", "bob")
    True
    """
    return int(hashlib.sha256(f"{lab}/{student}".encode()).hexdigest()[:8], 16)


# --------------------------------------------------------------------------- running one kernel

class KernelGone(Exception):
    """The kernel died, hung or ran out of time; the message says which, for the learner."""


class SandboxedKernel:
    """A kernel forked from the zygote into its own sandbox, driven over ZeroMQ Unix sockets."""

    def __init__(self, zygote: sandbox.Zygote, runtime: Path, name: str, uid: int, limits: sandbox.Limits,
                 env: dict, plan: LabPlan, spark_socket: str | None, hide: list[str] | None = None) -> None:
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.limits, self.zygote = limits, zygote
        self.workdir = runtime / name
        self.workdir.mkdir(mode=0o700)
        release = lab_notebook(plan.lab, released=True).parent
        for f in plan.release_files:
            target = self.workdir / f.relative_to(release)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
        self.scratch = runtime / f"scratch-{secrets.token_hex(8)}"
        self.scratch.mkdir()
        self.scratch.chmod(0o777)  # the shared Spark server (another user) writes here too
        env = {**env, "LABKIT_SCRATCH_URI": str(self.scratch)}
        iso = sandbox.isolation()
        if iso["separate_user"]:
            for p in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(p, uid, uid)
        self.connection_file = str(self.workdir / ".kernel.json")
        write_connection_file(self.connection_file, transport="ipc", ip=str(self.workdir / ".k"),
                              shell_port=1, iopub_port=2, stdin_port=3, control_port=4, hb_port=5,
                              key=secrets.token_bytes(32).hex().encode(), signature_scheme="hmac-sha256")
        self.cgroup = sandbox.Cgroup(name, limits) if iso["cgroups"] else None
        key = secrets.token_bytes(32)
        self.inbox = channel.Inbox(runtime / f"{name}.referee", key)
        self.seq = 0
        self.called_referee = False
        spec = sandbox.Spec(
            name=name, workdir=str(self.workdir), connection_file=self.connection_file, uid=uid,
            limits=asdict(limits), env=env, cgroups=self.cgroup.procs_files if self.cgroup else [],
            readonly=_visible_paths(),
            hide=secret_paths() + list(hide or []),
            spark_socket=spark_socket, referee_socket=str(self.inbox.path), referee_key=key.hex(),
        )
        if iso["separate_user"]:
            os.chown(self.connection_file, uid, uid)
        self.pid = zygote.spawn(spec)
        self.client = BlockingKernelClient(connection_file=self.connection_file)
        self.client.load_connection_file()
        self.client.start_channels()
        deadline = time.monotonic() + 60
        while True:
            self._check_alive()
            try:
                self.client.wait_for_ready(timeout=1)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise KernelGone("the kernel did not start within 60 s") from None

    def _check_alive(self) -> None:
        status = self.zygote.exit_status(self.pid)
        if status is not None:
            oom = bool(self.cgroup and self.cgroup.oom_killed())
            raise KernelGone(sandbox.describe_exit(status, oom=oom, limits=self.limits))

    def silent(self, code: str, timeout: float = 30.0) -> None:
        self.run(code, timeout=timeout, silent=True)

    def run(self, code: str, *, timeout: float, silent: bool = False, history: bool = True) -> tuple[list, int | None]:
        """Execute ``code``; return its nbformat outputs and execution count. Test cells run with
        ``history=False``, which keeps their text out of ``In``/``_ih``."""
        msg_id = self.client.execute(code, silent=silent, store_history=history and not silent, allow_stdin=False)
        outputs: list = []
        count, chars, truncated = None, 0, False
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KernelGone(f"stopped after {timeout:.0f} s (the time limit per cell): look for an endless "
                                 "loop or a very slow step")
            try:
                msg = self.client.get_iopub_msg(timeout=min(1.0, remaining))
            except queue.Empty:
                self._check_alive()
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                break
            if kind == "execute_input":
                count = content.get("execution_count")
            elif kind == "clear_output":
                outputs.clear()
            elif kind in ("stream", "display_data", "execute_result", "error"):
                if silent:
                    continue
                size = len(json.dumps(content.get("data") or content.get("text") or content.get("traceback")))
                if chars + size > self.limits.max_output_chars:
                    if not truncated:
                        outputs.append(nbformat.v4.new_output(
                            "stream", name="stdout",
                            text=f"\n[labkit: output truncated: this cell printed more than "
                                 f"{self.limits.max_output_chars:,} characters]\n"))
                        truncated = True
                    if kind != "execute_result":
                        continue
                chars += size
                out = nbformat.v4.output_from_msg(msg)
                if kind == "stream" and outputs and outputs[-1].output_type == "stream" \
                        and outputs[-1].name == out.name:
                    outputs[-1].text += out.text
                else:
                    outputs.append(out)
        return outputs, count

    def run_test(self, source: str, *, timeout: float) -> tuple[dict | None, str, list]:
        """Run one test cell through the kernel's referee; return its signed report (``None`` if there is no
        valid one), if not why, and what the kernel displayed (untrusted: shown, never scored)."""
        self.seq += 1
        early, stale = self.inbox.drain()
        if early:
            self.called_referee = True
        code = f"__import__('labkit.grading.referee', fromlist=['run']).run({source!r}, {self.seq})"
        shown, _ = self.run(code, timeout=timeout, history=False)
        reports, forged = self.inbox.drain()
        mine = [r for r in reports if r.get("seq") == self.seq]
        if forged or stale:
            return None, "not scored: something other than the grader's referee sent score reports", shown
        if len(mine) != 1 or len(reports) != 1:
            return None, NO_REPORT if not mine else "not scored: more than one score was reported for this cell", \
                shown
        if mine[0].get("sha") != channel.fingerprint(source):
            return None, "not scored: the test that ran was not this cell's", shown
        return mine[0], "", shown

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.inbox.close()
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        if self.cgroup:
            self.cgroup.kill()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, 9)
        self.zygote.wait_exit(self.pid, 5)
        if os.environ.get("LABKIT_KEEP_SANDBOX"):  # debugging: keep the working folder and kernel log
            return
        shutil.rmtree(self.workdir, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


# --------------------------------------------------------------------------- scoring

def _partial(output, points: float) -> float | None:
    text = output.get("data", {}).get("text/plain")
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return min(max(value, 0.0), points)


def score_cell(cell, points: float) -> Question:
    """A test cell's :class:`Question`: nbgrader's rule (an error scores 0; a number as the last value is
    partial credit; otherwise full marks), except that stderr output is a warning, not a zero."""
    gid = cell.metadata["nbgrader"]["grade_id"]
    q = Question(gid, points)
    failed = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if out.name == "stderr":
                q.warning = (q.warning + out.text)[-2000:]
            failed += [line[2:] for line in out.text.splitlines() if line.startswith("✗ ")]
        elif out.output_type == "error":
            q.score = 0.0
            q.messages = [f"the test cell raised {out.ename}: {out.evalue}"[:500]]
            return q
    results = [o for o in cell.get("outputs", []) if o.output_type == "execute_result"]
    partial = _partial(results[-1], points) if results else None
    q.score = round(points if partial is None else partial, 4)
    q.messages = failed
    return q


def score_report(gid: str, points: float, report: dict | None, problem: str, uses_checks: bool) -> Question:
    """A test cell's :class:`Question` from the referee's signed report: fail closed (0, with the reason)
    without one or when the run was tainted; ``Checks`` cells score the share of their checks that
    passed; other test cells follow nbgrader's rule (an error scores 0, a number as the last value is
    partial credit, otherwise full marks). Text on stderr is a warning, never a zero."""
    q = Question(gid, points)
    if report is None:
        q.messages = [problem or NO_REPORT]
        return q
    q.warning = str(report.get("stderr") or "")[-2000:]
    if report.get("taint"):
        q.messages = [f"not scored: {t}" for t in report["taint"]][:5]
        return q
    if report.get("error"):
        q.messages = [f"the test cell raised {report['error']}"[:500]]
        return q
    if uses_checks:
        records = [r for r in report.get("records", []) if isinstance(r, list) and len(r) == 3]
        if not records or not report.get("checks"):
            q.messages = [NO_REPORT]
            return q
        passed = sum(r[1] is True for r in records)
        q.score = round(points * passed / len(records), 4)
        q.messages = [f"{r[0]}: {r[2]}" for r in records if r[1] is not True]
        return q
    value = report.get("value")
    q.score = round(points if not isinstance(value, (int, float)) else min(max(float(value), 0.0), points), 4)
    return q


def report_outputs(report: dict | None, question: Question, shown: list) -> list:
    """What a graded test cell shows: what it printed, its error if any, and its score. Without a report,
    what the kernel displayed comes first, marked as not scored."""
    outputs = [] if report is not None else [
        nbformat.v4.new_output("stream", name="stdout", text="[labkit: what the cell displayed, not scored]\n"),
        *[o for o in shown if o.get("output_type") != "execute_result"]]
    text = (report or {}).get("stdout") or ""
    if text:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text))
    if question.warning:
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=question.warning))
    if report is None or report.get("taint") or report.get("error"):
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text="\n".join(question.messages) + "\n"))
    outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": f"{question.score:g}"},
                                          execution_count=None))
    return outputs


# --------------------------------------------------------------------------- one submission

@dataclass
class _Context:
    plan: LabPlan
    zygote: sandbox.Zygote
    runtime: Path
    limits: sandbox.Limits
    spark_socket: str | None
    next_uid: Callable[[], int]
    hide: list[str] = field(default_factory=list)
    all_cells: bool = False


_SKIPPED = nbformat.v4.new_output("stream", name="stdout", text="(a demo cell no graded cell needs: not run while "
                                                                 "grading)\n")


def grade_submission(sub: intake.Submission, ctx: _Context) -> tuple[Result, nbformat.NotebookNode | None]:
    """Grade one learner: never raises; whatever happens is in the returned :class:`Result`."""
    start = time.perf_counter()
    plan = ctx.plan
    questions = {gid: Question(gid, pts) for gid, pts in plan.points.items()}
    result = Result(sub.student, plan.lab, questions, list(sub.warnings))

    def fail_all(reason: str) -> tuple[Result, None]:
        result.problem = reason
        for q in questions.values():
            q.messages = [reason]
        result.seconds = time.perf_counter() - start
        return result, None

    if sub.problems:
        return fail_all("; ".join(sub.problems))
    prepared = intake.prepare(sub.raw, plan.source, plan.release)
    result.warnings += prepared.warnings
    if prepared.fatal:
        return fail_all(prepared.fatal)
    for text in prepared.answers.values():
        result.flags += [f for f in _scan(text) if f not in result.flags]
    released = {c.source for c in plan.release.cells}
    for cell in prepared.notebook.cells:  # the learner's own cells, and lab cells they changed
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader") and cell.source not in released:
            result.flags += [f for f in _scan(cell.source) if f not in result.flags]
    nb = prepared.notebook
    env = {**KERNEL_ENV, "NBGRADER_EXECUTION": "autograde", "LABKIT_GRADING_SEED": str(seed_for(plan.lab, sub.student)),
           "PYTHONHASHSEED": "0"}
    if ctx.spark_socket:
        env["LABKIT_SPARK_REMOTE"] = "sc://127.0.0.1:15002"
    name = f"{os.getpid()}-{hashlib.sha256(sub.student.encode()).hexdigest()[:12]}-{secrets.token_hex(3)}"
    stopped: str | None = None
    kernel = None
    try:
        kernel = SandboxedKernel(ctx.zygote, ctx.runtime, name, ctx.next_uid(), ctx.limits, env, plan,
                                 ctx.spark_socket, ctx.hide)
        kernel.silent(_ARM)
        deadline = time.monotonic() + ctx.limits.notebook_timeout
        skip = set() if ctx.all_cells else plan.skipped_demos(nb)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if index in skip:
                cell.outputs, cell.execution_count = [_SKIPPED], None
                continue
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KernelGone(f"the notebook ran longer than {ctx.limits.notebook_timeout:.0f} s in total")
            timeout = min(ctx.limits.cell_timeout, remaining)
            if gid in plan.tests:
                report, problem, shown = kernel.run_test(cell.source, timeout=timeout)
                q = questions[gid] = score_report(gid, plan.points[gid], report, problem, gid in plan.checks_cells)
                # what reached the kernel's stderr at the file-descriptor level (native libraries) is shown too
                q.warning = (q.warning + "".join(o.get("text", "") for o in shown if o.get("output_type") == "stream"
                                                 and o.get("name") == "stderr"))[-2000:]
                cell.outputs, cell.execution_count = report_outputs(report, q, shown), None
                tampered = problem or (report or {}).get("taint")
                result.flags += [f for f in (report or {}).get("flags", []) if f not in result.flags]
                if tampered and "score tampering" not in result.flags:
                    result.flags.append("score tampering")
                continue
            cell.outputs, cell.execution_count = kernel.run(cell.source, timeout=timeout)
    except KernelGone as exc:
        stopped = str(exc)
    except Exception as exc:  # noqa: BLE001 - a grading run must survive any one submission
        # the grader's own failure, not the learner's: not journaled, so the next run grades it again
        result.incomplete = True
        stopped = f"grading stopped: {type(exc).__name__}: {exc} (run labkit grade again to retry)"
    finally:
        if kernel is not None:
            if kernel.called_referee and "calls the grader's referee" not in result.flags:
                result.flags.append("calls the grader's referee")
            kernel.close()
    if stopped:
        result.problem = stopped
        reached = True
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in plan.tests and not cell.get("outputs") and cell.get("execution_count") is None:
                reached = False
            if gid in plan.tests and not reached:
                questions[gid] = Question(gid, plan.points[gid], 0.0, [f"not run: {stopped}"])
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"**labkit: grading stopped early:** {stopped}"))
    result.seconds = time.perf_counter() - start
    return result, nb


def _package_root() -> Path:
    return Path(__file__).resolve().parents[2]


def secret_paths() -> list[str]:
    """What a sandboxed process must not see: the instructor's folders of the course and of the kit's own
    checkout (they differ when the course lives elsewhere)."""
    from labkit.paths import build_dir, course_root, grading_dir, solutions_dir

    paths = [solutions_dir(), grading_dir(), build_dir(), course_root() / ".git"]
    package = _package_root()
    if package != course_root():
        paths += [package / name for name in ("solutions", "grading", "build", ".git")]
    return [str(p) for p in paths]


def _visible_paths() -> list[str]:
    """What a sandboxed kernel must read: the interpreter, the venv, the course and its datasets."""
    import sys

    from labkit.paths import course_root, datasets_dir

    paths: list[Path] = []
    for p in (Path(sys.base_prefix), Path(sys.prefix), course_root(), datasets_dir(), _package_root()):
        p = p.resolve()
        if not any(p == q or q in p.parents for q in paths):
            paths = [q for q in paths if p not in q.parents] + [p]
    return [str(p) for p in paths]


def _scan(text: str) -> list[str]:
    from labkit.grading.guard import scan

    return scan(text)


# --------------------------------------------------------------------------- the gradebook

_JOURNAL = ("CREATE TABLE IF NOT EXISTS labkit_journal (lab TEXT NOT NULL, student TEXT NOT NULL, "
            "digest TEXT NOT NULL, score REAL, result TEXT, PRIMARY KEY (lab, student))")


class Gradebook:
    """The main thread's single connection to nbgrader's gradebook, plus labkit's journal table."""

    def __init__(self, lab: str, root: Path | None = None) -> None:
        from nbgrader.api import Gradebook as NbGradebook
        from sqlalchemy import text

        self._text = text
        self.api = api(root)
        self.lab = lab
        self.gb = NbGradebook(self.api.coursedir.db_url)
        try:
            self.assignment = self.gb.find_assignment(lab)
        except Exception:
            self.gb.close()
            raise GradingError(f"{lab} is not in the gradebook: release it first with `labkit release {lab}`.") \
                from None
        self.gb.db.execute(text(_JOURNAL))
        self.gb.db.commit()

    def journal(self) -> dict[str, str]:
        rows = self.gb.db.execute(self._text("SELECT student, digest FROM labkit_journal WHERE lab = :lab"),
                                  {"lab": self.lab})
        return dict(rows.fetchall())

    def record(self, result: Result, notebook_name: str) -> None:
        """Write one learner's grades and journal entry in one transaction."""
        self.gb.update_or_create_student(result.student)
        submission = self.gb.update_or_create_submission(self.lab, result.student)
        nb = next(n for n in submission.notebooks if n.name == notebook_name.removesuffix(".ipynb"))
        for grade in nb.grades:
            q = result.questions.get(grade.name)
            if q is None:
                continue
            grade.auto_score = q.score
            grade.needs_manual_grade = False
        self.gb.db.execute(self._text("INSERT OR REPLACE INTO labkit_journal VALUES (:lab, :student, :digest, "
                                      ":score, :result)"),
                           {"lab": self.lab, "student": result.student, "digest": result.digest,
                            "score": result.score, "result": json.dumps(asdict(result))})
        self.gb.db.commit()

    def stored(self, student: str) -> Result | None:
        row = self.gb.db.execute(self._text("SELECT result FROM labkit_journal WHERE lab = :lab AND student = :s"),
                                 {"lab": self.lab, "s": student}).fetchone()
        if not row:
            return None
        data = json.loads(row[0])
        data["questions"] = {k: Question(**v) for k, v in data["questions"].items()}
        return Result(**data)

    def close(self) -> None:
        self.gb.close()


# --------------------------------------------------------------------------- the run

def _atomic_write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def _runtime_dir() -> Path:
    base = Path("/run/labkit") if sandbox.isolation()["separate_user"] else Path(tempfile.gettempdir())
    base.mkdir(mode=0o755, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="grade-", dir=base))
    path.chmod(0o711)
    return path


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
    sandbox.clean_stale_cgroups()
    runtime = _runtime_dir()
    uids = iter(range(sandbox.FIRST_UID, sandbox.FIRST_UID + 10**6))
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
                from labkit.grading.spark_server import SharedSparkServer

                spark = SharedSparkServer(zygote, runtime, next_uid())
            # the submissions folder too: a learner must not read (or overwrite) another's notebook
            ctx = _Context(plan, zygote, runtime, limits, spark.socket if spark else None, next_uid,
                           [str(Path(submissions).resolve())], all_cells)
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=len(todo), desc=f"grading {lab}", unit="submission", ascii=True)
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labkit-grade") as pool:
                futures = [pool.submit(_grade_one, sub, digest, ctx) for sub, digest in todo]
                for future in as_completed(futures):
                    result, executed = future.result()
                    autograded = Path(nb_api.coursedir.format_path(nb_api.coursedir.autograded_directory,
                                                                  result.student, lab))
                    _atomic_write(autograded / plan.notebook_name, nbformat.writes(executed or _blank_from(plan)))
                    book.record(result, plan.notebook_name)
                    results.append(result)
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if spark is not None:
            spark.close()
        if zygote is not None:
            zygote.close()
        book.close()
        if not os.environ.get("LABKIT_KEEP_SANDBOX"):
            shutil.rmtree(runtime, ignore_errors=True)
    order = {s.student: i for i, s in enumerate(subs)}
    results.sort(key=lambda r: order.get(r.student, 0))
    return Run(lab, results, time.perf_counter() - start, workers, sandbox.describe_isolation())


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
