"""``labkit hub``: JupyterHub serving the class from one machine, configured from the course file.

What :func:`setup` prepares under the class root (all root's; the hub's own state private)::

    venv/          the class environment (labkit.classroom.class_env): every learner's account can run it
    node/          configurable-http-proxy, from npm
    datasets/      the course's datasets, readable by all (labs read them through LABKIT_DATASETS)
    exchange/      nbgrader's exchange (labkit.classroom.exchange)
    hub/           0700: jupyterhub_config.py, the hub's database and cookie secret, logs

:func:`config` writes JupyterHub's configuration: PAM log-in for the roster's active learners and the
instructors (an expired account, as a disabled learner's is, cannot log in), each server run as its owner's
account by :class:`labkit.classroom.spawner.ClassSpawner` with the course file's limits, JupyterLab with nbgrader's
Assignment List and Validate but no formgrader for learners, the formgrader as a hub service that only the
``instructors`` group may open, and ``jupyterhub-idle-culler``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from labkit.classroom import accounts
from labkit.classroom.course_file import Course
from labkit.classroom.roster import Learner

PROXY_PACKAGE = "configurable-http-proxy@5.3.0"
STOP_SECONDS = 60  # JupyterHub's own shutdown: each server gets SIGINT, 10 s, SIGTERM, 5 s, SIGKILL
FORMGRADER = "formgrader"  # the service's name: https://<hub>/services/formgrader/formgrader
LEARNER_EXTENSIONS_OFF = {  # nbgrader's instructor tools, which it enables for every user
    "server": ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"],
    "lab": ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list"],
}


class HubError(RuntimeError):
    """The hub could not be set up or started; the message says what to do."""


@dataclass(frozen=True)
class Ports:
    public: int
    hub: int
    proxy_api: int
    formgrader: int


@dataclass(frozen=True)
class Layout:
    """Where the class's hub files are."""

    course: Course

    @property
    def venv(self) -> Path:
        return self.course.class_root / "venv"

    @property
    def node(self) -> Path:
        return self.course.class_root / "node"

    @property
    def proxy(self) -> Path:
        return self.node / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def datasets(self) -> Path:
        return self.course.class_root / "datasets"

    @property
    def state(self) -> Path:
        return self.course.class_root / "hub"


def install_proxy(layout: Layout) -> Path:
    """configurable-http-proxy into ``<class_root>/node`` (npm), once."""
    if layout.proxy.exists():
        return layout.proxy
    if shutil.which("npm") is None:
        raise HubError("JupyterHub's proxy comes from npm, which is missing: apt-get install npm")
    layout.node.mkdir(parents=True, exist_ok=True)
    # as root: no package's install scripts run (the proxy needs none)
    done = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix",
                           str(layout.node), PROXY_PACKAGE], capture_output=True, text=True)
    if done.returncode or not layout.proxy.exists():
        raise HubError(f"npm could not install {PROXY_PACKAGE}:\n{done.stderr[-2000:]}")
    return layout.proxy


def learner_args() -> list[str]:
    """What every learner's server is started with: nbgrader's instructor tools off. On the command line, which
    no configuration file (root's or the learner's own) can override."""
    args = []
    for name in LEARNER_EXTENSIONS_OFF["server"]:
        args += ["--ServerApp.jpserver_extensions", f"{name}=False"]
    return args


def learner_lab_config(venv: Path) -> None:
    """Hide nbgrader's instructor menus from JupyterLab in the class environment (the formgrader service does not
    use JupyterLab, so it is not affected), and JupyterLab's question about fetching news from the internet."""
    folder = venv / "etc" / "jupyter" / "labconfig"
    folder.mkdir(parents=True, exist_ok=True)
    page = {"disabledExtensions": {name: True for name in LEARNER_EXTENSIONS_OFF["lab"]}}
    (folder / "page_config.json").write_text(json.dumps(page, indent=1))
    settings = venv / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    overrides = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
    (settings / "overrides.json").write_text(json.dumps(overrides, indent=1))


NO_AUTOGRADE_KERNEL = "use-labkit-grade"


def service_config_dir(layout: Layout) -> Path:
    """The formgrader service's own Jupyter config folder (root's ``~/.jupyter`` stays out). The service runs as
    root on the instructor's checkout, so it runs no code at all: no kernel may start (its Autograde button would
    run learners' code unsandboxed, as root: grade with ``labkit grade``), JupyterLab and terminals are off, and
    HTML in what it renders is sanitised (labkit's graded copies carry none: :mod:`labkit.grading.defang`)."""
    folder = layout.state / "formgrader-jupyter"
    folder.mkdir(parents=True, exist_ok=True)
    server = {"KernelSpecManager": {"allowed_kernelspecs": [NO_AUTOGRADE_KERNEL]},
              "HTMLExporter": {"sanitize_html": True}}
    (folder / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821 (written by labkit hub)\n"
        f"c.ExecutePreprocessor.kernel_name = {NO_AUTOGRADE_KERNEL!r}  # grade with `labkit grade`, sandboxed\n")
    return folder


def setup(course: Course, course_root: Path, *, full: bool = True, progress=print) -> Layout:
    """Everything the hub needs under the class root (see the module's docstring); idempotent."""
    from labkit.classroom import exchange
    from labkit.classroom.class_env import build

    if not accounts.is_root():
        raise HubError("labkit hub needs root: each learner's server runs as their own account")
    layout = Layout(course)
    exchange.prepare(course)
    if not (layout.venv / "bin" / "jupyterhub").exists():
        progress(f"building the class environment in {layout.venv} (first time only; several minutes)...")
        build(layout.venv, full=full, hub=True)
    exchange.write_learner_config(course, layout.venv)
    learner_lab_config(layout.venv)
    progress("installing configurable-http-proxy..." if not layout.proxy.exists() else "")
    install_proxy(layout)
    if (course_root / "datasets").is_dir():
        shutil.copytree(course_root / "datasets", layout.datasets, dirs_exist_ok=True, symlinks=False)
        exchange.readable_by_all(layout.datasets)
    layout.state.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.state, 0o700)
    return layout


def ensure_instructors(course: Course) -> None:
    """Accounts for the course file's instructors (their own servers run as them); existing ones are kept."""
    for name in course.instructors:
        if not accounts.exists(name):
            accounts.create_plain(name, f"{course.course_id} instructor")


def config(course: Course, learners: list[Learner], layout: Layout, ports: Ports, course_root: Path) -> str:
    """JupyterHub's configuration for the class (see the module's docstring)."""
    active = [learner.id for learner in learners]
    blocked = accounts.members(accounts.learners_group(course.course_id)) - set(active)  # disabled by the roster
    users = sorted(set(active) | set(course.instructors))
    venv_bin = layout.venv / "bin"
    path = f"{venv_bin}:/usr/local/bin:/usr/bin:/bin"
    fg_config = service_config_dir(layout)
    culler_scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    lines = [
        '"""JupyterHub for the class: written by `labkit hub` from the course file; edits are overwritten."""',
        "c = get_config()  # noqa: F821",
        'c.JupyterHub.ip = "127.0.0.1"',
        f"c.JupyterHub.port = {ports.public}",
        'c.JupyterHub.hub_ip = "127.0.0.1"',
        f"c.JupyterHub.hub_port = {ports.hub}",
        f'c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports.proxy_api}"',
        f"c.ConfigurableHTTPProxy.command = [{str(layout.proxy)!r}]",
        f'c.JupyterHub.db_url = "sqlite:///{layout.state / "jupyterhub.sqlite"}"',
        f"c.JupyterHub.cookie_secret_file = {str(layout.state / 'jupyterhub_cookie_secret')!r}",
        "c.JupyterHub.cleanup_servers = True  # Ctrl-C stops every learner's server too",
        'c.JupyterHub.authenticator_class = "pam"',
        "c.PAMAuthenticator.open_sessions = False",
        f"c.Authenticator.allowed_users = {set(users)!r}",
        "c.Authenticator.allow_existing_users = False  # a learner taken off the roster cannot log in again",
        f"c.Authenticator.blocked_users = {blocked!r}",
        "c.Authenticator.admin_users = set()  # an admin could enter learners' servers: nobody is one",
        f"c.JupyterHub.load_groups = {{'learners': {{'users': {active!r}}}, "
        f"'instructors': {{'users': {list(course.instructors)!r}}}}}",
        'c.JupyterHub.spawner_class = "labkit.classroom.spawner.ClassSpawner"',
        f"c.Spawner.cmd = [{str(venv_bin / 'jupyterhub-singleuser')!r}]",
        'c.Spawner.default_url = "/lab"',
        f"c.Spawner.args = {learner_args()!r}",
        f"c.Spawner.environment = {{'PATH': {path!r}, 'LABKIT_DATASETS': {str(layout.datasets)!r}, "
        "'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}",
        f'c.Spawner.mem_limit = "{course.resources.memory}"',
        f"c.Spawner.cpu_limit = {course.resources.cpus}",
        "c.Spawner.start_timeout = 120",
        "c.Spawner.http_timeout = 90",
        "c.JupyterHub.services = [",
        f"    {{'name': {FORMGRADER!r}, 'url': 'http://127.0.0.1:{ports.formgrader}', 'oauth_no_confirm': True,",
        f"     'command': [{str(venv_bin / 'jupyterhub-singleuser')!r}, '--allow-root',",
        "                 '--ServerApp.terminals_enabled=False', '--SingleUserNotebookApp.default_url=/formgrader',",
        "                 '--ServerApp.jpserver_extensions', 'jupyterlab=False'],",
        f"     'cwd': {str(course_root)!r},",
        f"     'environment': {{'PATH': {path!r}, 'JUPYTER_CONFIG_DIR': {str(fg_config)!r},",
        f"                     'LABKIT_COURSE_ROOT': {str(course_root)!r}}}}},",
        "    {'name': 'idle-culler',",
        f"     'command': [{str(venv_bin / 'python')!r}, '-m', 'jupyterhub_idle_culler',",
        f"                 '--timeout={int(course.idle_cull.total_seconds())}']}},",
        "]",
        "c.JupyterHub.load_roles = [",
        f"    {{'name': 'formgrader-for-instructors', 'groups': ['instructors'],"
        f" 'scopes': ['access:services!service={FORMGRADER}']}},",
        f"    {{'name': 'idle-culler', 'services': ['idle-culler'], 'scopes': {culler_scopes!r}}},",
        "]",
        "",
    ]
    return "\n".join(lines)


def ports(public: int = 8000) -> Ports:
    """``public`` if free (else another), and free ports for the hub's API, the proxy's API and the formgrader."""
    from labkit.jupyter import free_port

    taken: set[int] = set()

    def pick(preferred: int = 0) -> int:
        port = free_port(preferred)
        while port in taken:
            port = free_port()
        taken.add(port)
        return port

    return Ports(public=pick(public), hub=pick(), proxy_api=pick(), formgrader=pick())


class Hub:
    """The class's JupyterHub as a process labkit owns: :meth:`start` waits for ``/hub/health``; :meth:`stop`
    (also at exit) stops it, and with it every learner's server and the proxy."""

    def __init__(self, course: Course, learners: list[Learner], course_root: Path, *, port: int = 8000,
                 full: bool = True, progress=print) -> None:
        from labkit.serving.process import LocalService

        self.layout = setup(course, course_root, full=full, progress=progress)
        ensure_instructors(course)
        self.ports = ports(port)
        self.users = sorted({learner.id for learner in learners} | set(course.instructors))
        cfg = self.layout.state / "jupyterhub_config.py"
        cfg.write_text(config(course, learners, self.layout, self.ports, course_root))
        os.chmod(cfg, 0o600)
        bin_dir = self.layout.venv / "bin"
        self.service = LocalService([str(bin_dir / "jupyterhub"), "-f", str(cfg)], port=self.ports.public,
                                    name="JupyterHub", health_path="hub/health", cwd=self.layout.state,
                                    env={"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"},
                                    log=self.layout.state / "jupyterhub.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.public}/"

    def start(self, timeout: float = 120) -> Hub:
        # a hub started from a shell's background job inherits an ignored SIGINT, and so would its servers and
        # services: JupyterHub stops those with SIGINT first and would wait out every timeout
        with contextlib.suppress(ValueError):  # (only the main thread may set handlers)
            if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        self.service.start(timeout=timeout)
        return self

    def stop(self) -> None:
        """Stop the hub (it stops its proxy, services and learners' servers); then kill whatever still runs from
        the class's environment or proxy, and every learner's cgroup, should the hub have died or been killed
        before it finished (its proxy and servers run in sessions of their own)."""
        import psutil

        from labkit.classroom.spawner import end_learner

        self.service.stop(timeout=STOP_SECONDS)
        ours = (f"{self.layout.venv}/", f"{self.layout.node}/")
        for process in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error, TypeError):
                if any(arg.startswith(ours) for arg in process.info["cmdline"][:2]):
                    process.kill()
        for user in self.users:
            end_learner(user)

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
