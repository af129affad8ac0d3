"""Stage 3 of grading: a kernel forked from the zygote into its own sandbox, driven over ZeroMQ Unix sockets,
with its referee's channel beside it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import nbformat

from labkit.grading import channel, sandbox
from labkit.grading.nbgrader import lab_notebook
from labkit.grading.plan import LabPlan
from labkit.grading.scoring import NO_REPORT

ARM = ("import warnings as _w, labkit.grading.referee as _r; _r.arm(); "
       "_w.filterwarnings('ignore', message='.*non-interactive.*'); del _w, _r")


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
            readonly=sandbox.visible_paths(),
            hide=sandbox.secret_paths() + list(hide or []),
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

    def arm(self) -> None:
        """The first code the kernel runs, before any learner code: the referee fingerprints the shell."""
        self.silent(ARM)

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
