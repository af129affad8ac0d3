"""docs/classroom: the Zero to JupyterHub values, the course's own Kubernetes objects and the single-user image,
checked statically (no cluster, no docker): they parse, use only keys the chart and KubeSpawner know, agree with
each other, and name the versions pyproject.toml and .ci/setup.sh pin, read from those files.

The chart's values.schema.yaml is not available offline, so the part of it these files rely on is written down
below as an allowed-key tree (from the jupyterhub chart 4.4.0's schema and KubeSpawner 7.0's traits). A key missing
from the tree fails the test: check it against the chart's schema before adding it here.
"""

from __future__ import annotations

import copy
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLASSROOM = ROOT / "docs" / "classroom"
VALUES = CLASSROOM / "k8s" / "values.yaml"
COURSE = CLASSROOM / "k8s" / "course.yaml"
DOCKERFILE = CLASSROOM / "Dockerfile"
README = CLASSROOM / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"
EXCHANGE_ROOT = "/srv/nbgrader/exchange"  # nbgrader's default Exchange.root, kept on Kubernetes


# --- the subset of the chart's schema these files use -----------------------------------------------------------------

ANY = None  # any value: not checked further here


@dataclass(frozen=True)
class MapOf:
    """A mapping with free keys (matching ``key_pattern``), each value checked against ``value``."""

    value: Any
    key_pattern: str = ".*"


def _keys(*names: str, **nested: Any) -> dict[str, Any]:
    return {**dict.fromkeys(names, ANY), **nested}


IMAGE = _keys("name", "tag", "pullPolicy", "pullSecrets")
EXTRA_FILE = _keys("mountPath", "mode", "data", "stringData", "binaryData")
# hub.services values are JupyterHub Service objects (jupyterhub.services.service.Service, 5.5), plus the chart's
# apiToken alias; hub.loadRoles values are JupyterHub roles.
HUB_SERVICE = _keys("name", "admin", "url", "api_token", "apiToken", "command", "cwd", "environment", "user",
                    "display", "info", "oauth_no_confirm", "oauth_client_allowed_scopes", "oauth_roles",
                    "oauth_client_id", "oauth_redirect_uri")
HUB_ROLE = _keys("name", "description", "scopes", "users", "services", "groups")

Z2JH_SUBSET: dict[str, Any] = _keys(
    "fullnameOverride", "nameOverride",
    hub=_keys(
        "baseUrl", "extraEnv", "extraConfig",
        # traitlets sections, which must be Configurable class names (the chart exits on lower-case ones)
        config=MapOf(ANY, key_pattern=r"[A-Z]"),
        services=MapOf(HUB_SERVICE),
        loadRoles=MapOf(HUB_ROLE),
    ),
    singleuser=_keys(
        "cmd", "defaultUrl", "startTimeout", "uid", "fsGid", "extraEnv", "extraLabels", "initContainers",
        "profileList", "nodeSelector",
        image=IMAGE,
        memory=_keys("limit", "guarantee"),
        cpu=_keys("limit", "guarantee"),
        extraFiles=MapOf(EXTRA_FILE),
        storage=_keys("type", "capacity", "homeMountPath", "extraLabels", "extraVolumes", "extraVolumeMounts",
                      dynamic=_keys("storageClass", "pvcNameTemplate", "volumeNameTemplate", "storageAccessModes",
                                    "subPath"),
                      static=_keys("pvcName", "subPath")),
    ),
    cull=_keys("enabled", "users", "adminUsers", "removeNamedServers", "timeout", "every", "concurrency", "maxAge"),
    proxy=_keys(
        "secretToken",
        https=_keys("enabled", "type", "hosts",
                    letsencrypt=_keys("contactEmail", "acmeServer"),
                    manual=_keys("key", "cert"),
                    secret=_keys("name", "key", "crt")),
        service=_keys("type", "labels", "annotations", "nodePorts", "loadBalancerIP"),
    ),
    prePuller=_keys("pullProfileListImages", hook=_keys("enabled"), continuous=_keys("enabled")),
)

# KubeSpawner.profile_list entries (KubeSpawner 7.0) and the traits a kubespawner_override may set: KubeSpawner's and
# its base Spawner's. An unknown override key fails only at spawn time (getattr on the spawner), for that learner.
PROFILE_KEYS = {"display_name", "slug", "description", "default", "kubespawner_override", "profile_options"}
OVERRIDE_KEYS = {
    "image", "image_pull_policy", "cmd", "args", "default_url", "environment", "start_timeout",
    "cpu_guarantee", "cpu_limit", "mem_guarantee", "mem_limit", "extra_resource_guarantees", "extra_resource_limits",
    "node_selector", "tolerations", "volumes", "volume_mounts", "init_containers", "extra_labels",
    "extra_annotations", "extra_pod_config", "extra_container_config", "storage_capacity", "uid", "fs_gid",
}
# the fields KubeSpawner's str.format fills in volumes, mounts and init containers
KUBESPAWNER_FIELDS = {"userid", "username", "servername", "user_server", "unescaped_username", "unescaped_servername",
                      "safe_username", "safe_servername", "safe_user_server", "escaped_username",
                      "escaped_servername", "escaped_user_server", "hubnamespace"}


def unknown_keys(value: Any, schema: Any, path: str = "") -> list[str]:
    """Dotted paths in ``value`` that ``schema`` does not allow."""
    if schema is ANY:
        return []
    if not isinstance(value, dict):
        return [f"{path or '<root>'}: expected a mapping, got {type(value).__name__}"]
    found: list[str] = []
    for key, sub in value.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(schema, MapOf):
            if re.match(schema.key_pattern, str(key)):
                found += unknown_keys(sub, schema.value, where)
            else:
                found.append(where)
        elif key in schema:
            found += unknown_keys(sub, schema[key], where)
        else:
            found.append(where)
    return found


# --- quantities -------------------------------------------------------------------------------------------------------

_K8S_SUFFIXES = {"": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
                 "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_JUPYTERHUB_SUFFIXES = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def k8s_quantity(value: Any) -> float:
    """A Kubernetes resource quantity ("4G", "512Mi", "500m", 2) as a number; ValueError if it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return float(value)
    m = re.fullmatch(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?", str(value))
    if not m:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    number, exponent, suffix = m.groups()
    return float(number) * (10.0 ** int(exponent) if exponent else _K8S_SUFFIXES[suffix or ""])


def jupyterhub_bytes(value: Any) -> int:
    """What JupyterHub's ByteSpecification (mem_limit, mem_guarantee) makes of ``value``: it takes a number or a
    string ending in K, M, G or T (powers of 1024) and rejects Kubernetes' "4Gi"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value)
    if text[-1:] not in _JUPYTERHUB_SUFFIXES:
        raise ValueError(f"{value!r}: JupyterHub wants a number or a K/M/G/T suffix")
    return int(float(text[:-1]) * _JUPYTERHUB_SUFFIXES[text[-1]])


def test_quantity_parsers_agree_with_kubernetes_and_jupyterhub() -> None:
    assert k8s_quantity("4G") == 4e9 and k8s_quantity("4Gi") == 4 * 2**30 and k8s_quantity("500m") == 0.5
    assert k8s_quantity(2) == 2.0 and k8s_quantity("1e3") == 1000.0
    assert jupyterhub_bytes("4G") == 4 * 2**30
    for bad in ("4GB", "four", "", True):
        with pytest.raises(ValueError):
            k8s_quantity(bad)
    with pytest.raises(ValueError):
        jupyterhub_bytes("4Gi")


# --- a small Dockerfile parser and .dockerignore matcher --------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)

    def words(self) -> list[str]:
        """The arguments, from the JSON (exec) form or split like a shell would."""
        if self.args.startswith("["):
            return list(yaml.safe_load(self.args))
        return shlex.split(self.args)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages of a Dockerfile: comments and parser directives dropped, continuation lines joined, leading
    ``--flag=value`` options of RUN/COPY/ADD/FROM split off."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending.strip():
        raise ValueError("the Dockerfile ends inside a continued line")
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            if len(parts) not in (1, 3) or (len(parts) == 3 and name is None):
                raise ValueError(f"cannot read FROM {rest!r}")
            stages.append(Stage(parts[0], name, []))
            continue
        if not stages:
            if keyword == "ARG":
                continue
            raise ValueError(f"{keyword} before the first FROM")
        stages[-1].instructions.append(Instruction(keyword, rest, flags))
    if not stages:
        raise ValueError("no FROM")
    return stages


def stage_chain(stages: list[Stage], target: Stage) -> list[Stage]:
    """``target`` and the stages it is built FROM, base first."""
    by_name = {s.name: s for s in stages if s.name}
    chain = [target]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    return chain


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves ``path`` (relative to the context) out: the last matching pattern decides, ``!``
    re-includes, a pattern matching a folder covers everything in it."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip().strip("/")
        if any(regex(pattern).fullmatch(p) for p in prefixes):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_dockerfile_parser_and_ignore_matcher_on_known_input() -> None:
    stages = parse_dockerfile(
        "# syntax=docker/dockerfile:1\nARG X=1\nFROM a:1 AS one\nRUN --mount=type=cache,target=/c \\\n"
        "    echo hi \\\n    # a comment inside\n    && true\nFROM one\nUSER 1000\nCMD [\"x\", \"y\"]\n")
    assert [(s.base, s.name) for s in stages] == [("a:1", "one"), ("one", None)]
    run = stages[0].of("RUN")[0]
    assert run.flags == {"mount": "type=cache,target=/c"} and run.args == "echo hi && true"
    assert stages[1].of("CMD")[0].words() == ["x", "y"]
    assert [s.name for s in stage_chain(stages, stages[1])] == ["one", None]
    with pytest.raises(ValueError):
        parse_dockerfile("RUN true\n")
    patterns = ["build", "**/__pycache__", "grading/*", "!grading/demo"]
    assert dockerignore_excludes(patterns, "build/x/y")
    assert dockerignore_excludes(patterns, "labkit/__pycache__/m.pyc")
    assert dockerignore_excludes(patterns, "grading/gradebook.db")
    assert not dockerignore_excludes(patterns, "grading/demo/01/perfect.ipynb")
    assert not dockerignore_excludes(patterns, "labkit/build.py")


# --- the files under test ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded = yaml.safe_load(VALUES.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def course_objects() -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(COURSE.read_text()) if d]
    assert all(isinstance(d, dict) and {"apiVersion", "kind", "metadata"} <= d.keys() for d in docs)
    return docs


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


def _object(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"course.yaml should define one {kind} {name!r}"
    return found[0]


def _only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"course.yaml should define one {kind}"
    return found[0]


def pins() -> dict[str, str]:
    """The versions the kit pins, each read from its one home, checked where two files state it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower(): d.replace(" ", "") for d in project["dependencies"]}
    setup = (ROOT / ".ci" / "setup.sh").read_text()

    def default(var: str) -> str:
        m = re.search(rf"^{var}=\$\{{{var}:-([^}}]+)\}}", setup, re.MULTILINE)
        assert m, f".ci/setup.sh has no default for {var}"
        return m.group(1)

    tensorflow = default("TF_VERSION")
    assert deps["tensorflow-cpu"] == f"tensorflow-cpu=={tensorflow}", "pyproject.toml and setup.sh disagree on TF"
    python = re.search(r">=\s*(3\.\d+)", project["requires-python"])
    assert python and default("PYTHON") == f"python{python.group(1)}"
    nbgrader = re.fullmatch(r"nbgrader==([\d.]+)", deps["nbgrader"])
    assert nbgrader, "nbgrader is pinned exactly in pyproject.toml"
    return {"python": python.group(1), "tensorflow": tensorflow, "horovod": default("HVD_VERSION"),
            "nbgrader": nbgrader.group(1), "labkit": project["version"], "venv_default": default("VENV")}


def course_id() -> str:
    m = re.search(r"^c\.CourseDirectory\.course_id\s*=\s*[\"']([^\"']+)", (ROOT / "nbgrader_config.py").read_text(),
                  re.MULTILINE)
    assert m, "nbgrader_config.py sets the course id"
    return m.group(1)


def nbgrader_settings(python_config: str) -> dict[str, str]:
    """``c.Section.name = "value"`` string settings of an nbgrader_config.py."""
    return dict(re.findall(r"^c\.(\w+\.\w+)\s*=\s*[\"']([^\"']*)[\"']", python_config, re.MULTILINE))


def venv_of(stages: list[Stage]) -> str:
    """The VENV the image runs .ci/setup.sh with."""
    runs = [i.args for s in stages for i in s.of("RUN") if ".ci/setup.sh" in i.args]
    assert len(runs) == 1, "the Dockerfile runs the kit's own set-up, .ci/setup.sh, once"
    m = re.search(r"(?:^|\s)VENV=(\S+)", runs[0])
    assert m, "setup.sh runs with VENV=… (its default .venv is relative to the working directory)"
    return m.group(1)


def image_parts(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{image!r} has no tag"
    return name, tag


def has_registry_host(name: str) -> bool:
    first, _, rest = name.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


# --- values.yaml ------------------------------------------------------------------------------------------------------


def test_values_use_only_keys_the_chart_knows(values: dict[str, Any]) -> None:
    assert unknown_keys(values, Z2JH_SUBSET) == []


@pytest.mark.parametrize(("path", "key"), [
    ((), "singleusers"),                  # a misspelt top-level section
    (("singleuser",), "memroy"),
    (("singleuser", "memory"), "limits"),
    (("cull",), "timout"),
    (("proxy", "https"), "enable"),
    (("hub", "config"), "loadRoles"),     # hub.config sections are class names: this belongs at hub.loadRoles
    (("hub", "services", "labkit"), "api_tokn"),
    (("hub", "loadRoles", "formgrader"), "scope"),
])
def test_an_unknown_key_is_rejected(values: dict[str, Any], path: tuple[str, ...], key: str) -> None:
    broken = copy.deepcopy(values)
    node = broken
    for part in path:
        node = node[part]
    node[key] = "x"
    assert unknown_keys(broken, Z2JH_SUBSET) == [".".join((*path, key))]


def test_the_image_is_the_kits_own_with_no_registry_host(values: dict[str, Any]) -> None:
    image = values["singleuser"]["image"]
    assert not has_registry_host(image["name"]), "a placeholder name: each site adds its own registry"
    assert str(image["tag"]) == pins()["labkit"], "the image is tagged with labkit's version (pyproject.toml)"
    assert str(image["tag"]) != "latest"


def test_learners_start_jupyterhub_singleuser_from_the_images_venv_in_lab(values: dict[str, Any],
                                                                          stages: list[Stage]) -> None:
    singleuser = values["singleuser"]
    cmd = singleuser["cmd"]
    cmd = cmd[0] if isinstance(cmd, list) else cmd
    assert cmd == f"{venv_of(stages)}/bin/jupyterhub-singleuser"
    assert singleuser["defaultUrl"] == "/lab"
    path = (singleuser.get("extraEnv") or {}).get("PATH")
    if path is not None:
        assert str(path).split(":")[0] == f"{venv_of(stages)}/bin"


def _resources(name: str, guarantee_mem: Any, limit_mem: Any, guarantee_cpu: Any, limit_cpu: Any) -> None:
    for label, value in (("memory guarantee", guarantee_mem), ("memory limit", limit_mem)):
        assert isinstance(value, str), f"{name}: {label} {value!r} should be a string like 4G"
        k8s_quantity(value)
        jupyterhub_bytes(value)  # KubeSpawner reads memory through JupyterHub's ByteSpecification
    for label, value in (("CPU guarantee", guarantee_cpu), ("CPU limit", limit_cpu)):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{name}: {label} must be a number"
        assert value > 0
    assert jupyterhub_bytes(guarantee_mem) <= jupyterhub_bytes(limit_mem), f"{name}: memory guarantee > limit"
    assert k8s_quantity(guarantee_mem) <= k8s_quantity(limit_mem)
    assert guarantee_cpu <= limit_cpu, f"{name}: CPU guarantee > limit"


def test_resources_are_quantities_and_guarantees_do_not_exceed_limits(values: dict[str, Any]) -> None:
    singleuser = values["singleuser"]
    mem, cpu = singleuser["memory"], singleuser["cpu"]
    _resources("singleuser", mem["guarantee"], mem["limit"], cpu["guarantee"], cpu["limit"])
    for profile in singleuser["profileList"]:
        o = profile["kubespawner_override"]
        _resources(profile["display_name"], o.get("mem_guarantee", mem["guarantee"]), o.get("mem_limit", mem["limit"]),
                   o.get("cpu_guarantee", cpu["guarantee"]), o.get("cpu_limit", cpu["limit"]))


def test_the_profile_list_is_valid_for_kubespawner(values: dict[str, Any]) -> None:
    profiles = values["singleuser"]["profileList"]
    assert isinstance(profiles, list) and len(profiles) >= 2
    for profile in profiles:
        assert set(profile) <= PROFILE_KEYS, f"unknown profile keys {set(profile) - PROFILE_KEYS}"
        assert isinstance(profile.get("display_name"), str) and profile["display_name"].strip()
        override = profile.get("kubespawner_override")
        assert isinstance(override, dict) and override, f"{profile['display_name']}: no kubespawner_override"
        assert set(override) <= OVERRIDE_KEYS, f"{profile['display_name']}: unknown {set(override) - OVERRIDE_KEYS}"
    assert sum(bool(p.get("default")) for p in profiles) == 1, "exactly one default profile"
    slugs = [p.get("slug") for p in profiles if p.get("slug")]
    assert len(slugs) == len(set(slugs))
    # the default profile is the chart-level default, figure for figure (YAML anchors keep one home for each)
    default = next(p for p in profiles if p.get("default"))["kubespawner_override"]
    mem, cpu = values["singleuser"]["memory"], values["singleuser"]["cpu"]
    assert (default["mem_guarantee"], default["mem_limit"]) == (mem["guarantee"], mem["limit"])
    assert (default["cpu_guarantee"], default["cpu_limit"]) == (cpu["guarantee"], cpu["limit"])
    larger = [p for p in profiles if not p.get("default")]
    assert all(jupyterhub_bytes(p["kubespawner_override"]["mem_limit"]) > jupyterhub_bytes(mem["limit"])
               for p in larger), "the other profiles are the larger ones"


def test_the_idle_culler_is_on_and_https_is_left_to_the_front(values: dict[str, Any]) -> None:
    cull = values["cull"]
    assert cull["enabled"] is True
    assert 0 < cull["every"] < cull["timeout"]
    assert values["proxy"]["https"]["enabled"] is False
    text = VALUES.read_text()
    assert re.search(r"^\s*#.*https", text, re.MULTILINE | re.IGNORECASE), "say where TLS ends instead"


def test_the_authenticator_is_a_commented_example(values: dict[str, Any]) -> None:
    text = VALUES.read_text()
    assert re.search(r"^\s*#\s*authenticator_class:", text, re.MULTILINE)
    assert re.search(r"^\s*#\s*[A-Z]\w*Authenticator:", text, re.MULTILINE)
    assert "config" in values["hub"]


def test_the_formgrader_service_and_the_instructors_role(values: dict[str, Any],
                                                         course_objects: list[dict[str, Any]]) -> None:
    hub = values["hub"]
    course = course_id()
    assert set(hub["services"]) == {course}, "nbgrader finds the formgrader at /services/<course id>/"
    service = hub["services"][course]
    assert "command" not in service, "the hub image has no nbgrader: the formgrader runs in its own pod"
    m = re.fullmatch(r"http://([a-z0-9-]+):(\d+)/?", service["url"])
    assert m, service["url"]
    k8s_service = _object(course_objects, "Service", m.group(1))
    assert int(m.group(2)) in [p["port"] for p in k8s_service["spec"]["ports"]]

    groups = hub["config"]["JupyterHub"]["load_groups"]
    assert "instructors" in groups
    roles = [r for r in hub["loadRoles"].values() if "instructors" in r.get("groups", [])]
    assert len(roles) == 1
    scopes = roles[0]["scopes"]
    assert f"access:services!service={course}" in scopes
    for scope in scopes:
        target = re.search(r"!service=(.+)$", scope)
        assert not target or target.group(1) in hub["services"], f"{scope} names an unknown service"
    for role in hub["loadRoles"].values():
        assert set(role.get("groups", [])) <= set(groups), "a role names a group nobody loads"


def test_the_exchange_is_mounted_per_learner(values: dict[str, Any], course_objects: list[dict[str, Any]]) -> None:
    singleuser = values["singleuser"]
    course = course_id()
    # learners' nbgrader: the course id of nbgrader_config.py and the exchange root the mounts use
    config = next(f for f in singleuser["extraFiles"].values() if f["mountPath"].endswith("nbgrader_config.py"))
    settings = nbgrader_settings(config["stringData"])
    assert settings == {"CourseDirectory.course_id": course, "Exchange.root": EXCHANGE_ROOT}

    volumes = {v["name"]: v for v in singleuser["storage"]["extraVolumes"]}
    claims = {name: v["persistentVolumeClaim"]["claimName"] for name, v in volumes.items()
              if "persistentVolumeClaim" in v}
    assert len(claims) == 1
    (volume, claim), = claims.items()
    pvc = _object(course_objects, "PersistentVolumeClaim", claim)
    assert "ReadWriteMany" in pvc["spec"]["accessModes"], "every learner's pod mounts it, on any node"

    mounts = [m for m in singleuser["storage"]["extraVolumeMounts"] if m["name"] == volume]
    assert all(m.get("subPath") for m in mounts), "no learner mounts the whole exchange"
    by_folder = {m["mountPath"].removeprefix(f"{EXCHANGE_ROOT}/{course}/"): m for m in mounts}
    assert set(by_folder) == {"outbound", "feedback", "inbound"}
    for folder in ("outbound", "feedback"):
        assert by_folder[folder]["subPath"] == f"{course}/{folder}" and by_folder[folder]["readOnly"] is True
    inbound = by_folder["inbound"]
    assert inbound["subPath"] == f"{course}/inbound/{{username}}" and not inbound.get("readOnly")

    # the init step creates exactly that folder, as uid 1000, from the whole volume
    inits = [c for c in singleuser["initContainers"] if any(v["name"] == volume for v in c.get("volumeMounts", []))]
    assert len(inits) == 1
    init = inits[0]
    at = next(v["mountPath"] for v in init["volumeMounts"] if v["name"] == volume)
    assert f"mkdir -p {at}/{inbound['subPath']}" in " ".join(init["command"])
    assert init["securityContext"]["runAsUser"] == 1000
    assert init["image"] == "{name}:{tag}".format(**singleuser["image"])
    # KubeSpawner str.formats init containers: any other brace would fail every spawn
    fields = set(re.findall(r"\{([^{}]*)\}", yaml.safe_dump(singleuser["initContainers"])))
    assert fields <= KUBESPAWNER_FIELDS, fields - KUBESPAWNER_FIELDS


# --- course.yaml ------------------------------------------------------------------------------------------------------


def test_the_formgrader_pod_is_the_hubs_service(values: dict[str, Any], course_objects: list[dict[str, Any]],
                                                stages: list[Stage]) -> None:
    assert {o["kind"] for o in course_objects} <= {"PersistentVolumeClaim", "ConfigMap", "Deployment", "Service"}
    course = course_id()
    deployment = _only(course_objects, "Deployment")
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert labels.get("hub.jupyter.org/network-access-hub") == "true", "the chart's network policy admits it"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pod["spec"]["securityContext"]["runAsUser"] == 1000
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "formgrader")
    assert container["securityContext"]["runAsNonRoot"] is True

    env = {e["name"]: e for e in container["env"]}
    assert env["JUPYTERHUB_SERVICE_NAME"]["value"] == course
    assert env["JUPYTERHUB_SERVICE_PREFIX"]["value"] == f"/services/{course}/"
    assert env["JUPYTERHUB_CLIENT_ID"]["value"] == f"service-{course}"
    assert env["JUPYTERHUB_OAUTH_CALLBACK_URL"]["value"] == f"/services/{course}/oauth_callback"
    token = env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "hub", "key": f"hub.services.{course}.apiToken"}, "where the chart writes the token"

    port = int(re.fullmatch(r"http://0\.0\.0\.0:(\d+)", env["JUPYTERHUB_SERVICE_URL"]["value"]).group(1))
    assert port in [p["containerPort"] for p in container["ports"]]
    url_port = int(values["hub"]["services"][course]["url"].rsplit(":", 1)[1].rstrip("/"))
    service = _only(course_objects, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert {"port": url_port, "targetPort": "http"}.items() <= service["spec"]["ports"][0].items()

    assert container["args"][0] == f"{venv_of(stages)}/bin/jupyterhub-singleuser"
    assert "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=True" in container["args"]

    # the instructors' exchange: all of the course's folder, read-write, with the learners' nbgrader settings
    claim = values["singleuser"]["storage"]["extraVolumes"][0]["persistentVolumeClaim"]["claimName"]
    volume = next(v["name"] for v in pod["spec"]["volumes"]
                  if v.get("persistentVolumeClaim", {}).get("claimName") == claim)
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume)
    assert (mount["mountPath"], mount["subPath"]) == (f"{EXCHANGE_ROOT}/{course}", course)
    assert not mount.get("readOnly")
    config = _only(course_objects, "ConfigMap")
    settings = nbgrader_settings(config["data"]["nbgrader_config.py"])
    assert settings == {"CourseDirectory.course_id": course, "Exchange.root": EXCHANGE_ROOT}
    assert f"cd {EXCHANGE_ROOT}/{course}/inbound" in config["data"]["link-inbound.sh"]

    version = pins()["labkit"]
    for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
        name, tag = image_parts(c["image"])
        assert not has_registry_host(name) and tag == version
        assert name == "labkit/formgrader", "the instructors' image (Dockerfile --target formgrader)"


# --- Dockerfile -------------------------------------------------------------------------------------------------------


def test_the_dockerfile_builds_a_pinned_non_root_image_with_the_kits_own_setup(values: dict[str, Any],
                                                                              stages: list[Stage]) -> None:
    learner = stage_chain(stages, stages[-1])  # what a plain `docker build` produces
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base in names:
            continue
        base, tag = image_parts(stage.base)
        assert tag != "latest" and not has_registry_host(base), stage.base
    users = [i.args for s in learner for i in s.of("USER")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "learners' servers run as a non-root user"
    assert users[-1].split(":")[0] in {"jovyan", "1000"}
    assert values["singleuser"]["initContainers"][0]["securityContext"]["runAsUser"] == 1000

    every = [i for s in stages for i in s.instructions]
    for add in (i for i in every if i.keyword == "ADD"):
        assert not re.search(r"(?:^|\s)(?:https?|git|ftp)://", add.args), f"ADD of a URL: {add.args}"
    for run in (i for i in every if i.keyword == "RUN"):
        assert not re.search(r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b", run.args), run.args

    venv = venv_of(stages)
    assert venv.startswith("/") and venv != pins()["venv_default"]
    setup = next(i.args for s in stages for i in s.of("RUN") if ".ci/setup.sh" in i.args)
    assert re.search(rf"(?:^|\s)PYTHON=python{re.escape(pins()['python'])}(?:\s|$)", setup)
    path = [i.words() for s in learner for i in s.of("ENV") if "PATH=" in i.args][-1]
    assert next(w for w in path if w.startswith("PATH=")).startswith(f"PATH={venv}/bin:")
    assert "8888" in [w.split("/")[0] for s in learner for i in s.of("EXPOSE") for w in i.words()]
    cmd = [i.words() for s in learner for i in s.of("CMD")][-1]
    assert Path(cmd[0]).name == "jupyterhub-singleuser" and (not cmd[0].startswith("/") or cmd[0].startswith(venv))


def test_the_learners_image_carries_no_solutions(stages: list[Stage]) -> None:
    learner = stage_chain(stages, stages[-1])
    copied = [i.words()[:-1] for s in learner for i in s.of("COPY") if "from" in i.flags]
    sources = [Path(src) for words in copied for src in words]
    assert sources, "the learners' image copies the venv from the build stage"
    secret = [Path("/opt/labkit/src/solutions"), Path("/opt/labkit/src/grading")]
    for src in sources:
        for path in secret:
            assert not (src == path or src in path.parents), f"{src} would put {path} in the learners' image"
    # ...while the formgrader target has the whole course, which its pod copies onto the course volume
    formgrader = next(s for s in stages if s.name == "formgrader")
    whole = [w for i in formgrader.of("COPY") for w in i.words()[:-1]]
    assert any(Path(w) in (Path("/opt/labkit/src"), *secret) or Path(w) in secret[0].parents for w in whole)


def test_every_copy_source_exists_and_is_in_the_build_context(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns()
    sources = [w for s in stages for i in s.of("COPY") if "from" not in i.flags for w in i.words()[:-1]]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
        if src != ".":
            assert not dockerignore_excludes(patterns, src), f"COPY {src}: .dockerignore leaves it out"
    for needed in ("pyproject.toml", "README.md", ".ci/setup.sh", "labkit/__init__.py", "datasets/MANIFEST",
                   "labs", "solutions", "nbgrader_config.py", "grading/demo", "grading/mistakes"):
        assert (ROOT / needed).exists() and not dockerignore_excludes(patterns, needed), needed


def test_dockerignore_keeps_the_venv_build_outputs_and_grading_data_out() -> None:
    patterns = dockerignore_patterns()
    for path in (".venv/bin/python", "build/executed/x.ipynb", ".git/HEAD", "grading/gradebook.db",
                 "grading/submitted/alice/04_metrics/04_metrics.ipynb", "grading/autograded/a/b.ipynb",
                 "grading/feedback/a/b.html", "grading/.work/x", "grading/course.yml", "grading/roster.csv",
                 "labkit/__pycache__/paths.cpython-311.pyc", "labs/04_metrics/.ipynb_checkpoints/x.ipynb",
                 "grading/demo/x.db"):
        assert dockerignore_excludes(patterns, path), f"{path} would be sent to the build"


# --- versions: one home each ------------------------------------------------------------------------------------------

_MENTIONS = {
    "python": [r"\bPython (3\.\d+)", r"\bpython(3\.\d+)\b", r"\bpython:(3\.\d+)"],
    "tensorflow": [r"\bTensorFlow (\d+\.\d+(?:\.\d+)?)", r"\btensorflow(?:-cpu)?==([\d.]+\d)"],
    "horovod": [r"\bHorovod (\d+\.\d+(?:\.\d+)?)", r"\bhorovod(?:\[[^\]]*\])?==([\d.]+\d)"],
    "nbgrader": [r"\bnbgrader (\d+\.\d+(?:\.\d+)?)", r"\bnbgrader==([\d.]+\d)"],
}


def mentions(text: str) -> dict[str, set[str]]:
    return {what: {v for pattern in patterns for v in re.findall(pattern, text)}
            for what, patterns in _MENTIONS.items()}


def test_version_mentions_match_the_pins() -> None:
    pinned = pins()
    files = [DOCKERFILE, README, VALUES, COURSE]
    for path in files:
        for what, seen in mentions(path.read_text()).items():
            # "TensorFlow 2.15" may abbreviate the pin 2.15.1; "2.1" may not
            wrong = {v for v in seen if pinned[what].split(".")[: len(v.split("."))] != v.split(".")}
            assert not wrong, f"{path.relative_to(ROOT)} names {what} {sorted(wrong)}, the pin is {pinned[what]}"
    in_dockerfile = mentions(DOCKERFILE.read_text())
    assert all(in_dockerfile[what] for what in _MENTIONS), "the Dockerfile says what it builds"
    assert mentions("Python 3.12, TensorFlow 2.16.1")["tensorflow"] == {"2.16.1"}  # the patterns bite


def test_the_chart_version_and_the_images_jupyterhub_agree(stages: list[Stage]) -> None:
    header = re.search(r"^# Chart: jupyterhub (\d+\.\d+\.\d+) \(deploys JupyterHub (\d+)\.(\d+)\.\d+",
                       VALUES.read_text(), re.MULTILINE)
    assert header, "values.yaml names the chart version it was written for and the JupyterHub it deploys"
    chart, hub_major = header.group(1), header.group(2)
    readme = README.read_text()
    assert re.findall(r"--version (\S+)", readme) == [chart]
    assert set(re.findall(r"chart (\d+\.\d+\.\d+)", readme)) == {chart}
    args = {k: v for s in stages for i in s.of("ARG") for k, _, v in [i.args.partition("=")]}
    assert args["JUPYTERHUB_VERSION"].split(".")[0] == hub_major, "z2jh: the image's JupyterHub matches the hub's major"
    assert re.search(r"jupyterhub==\$\{JUPYTERHUB_VERSION\}", DOCKERFILE.read_text())
