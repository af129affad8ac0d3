"""Learners' system accounts: each learner's server and files belong to their own Unix user.

labkit creates accounts with ``useradd`` (private home, mode 0700), puts them in the course's group
(``<course>-learners``) and only ever disables, re-enables or lists accounts of that group: an existing
account outside it (``root``, ``postgres``, a colleague's) is never touched, and a roster naming one is refused.
Disabling expires the account (no login, no server: the hub drops it too); the home and every grade stay.

>>> learners_group("labkit")
'labkit-learners'
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass


class AccountError(RuntimeError):
    """An account could not be created or changed; the message says why and what to do."""


def learners_group(course_id: str) -> str:
    """The Unix group holding the course's learner accounts."""
    return f"{course_id}-learners"


def is_root() -> bool:
    return os.geteuid() == 0


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise AccountError(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()}")


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def members(group: str) -> set[str]:
    """The accounts in ``group`` (empty if the group does not exist)."""
    try:
        return set(grp.getgrnam(group).gr_mem)
    except KeyError:
        return set()


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str


def lookup(name: str) -> Account:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise AccountError(f"{name} has no account on this machine: run `sudo labkit roster import`") from None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def ensure_group(group: str) -> None:
    try:
        grp.getgrnam(group)
    except KeyError:
        _run("groupadd", "--system", group)


def ensure_learner(name: str, full_name: str, group: str) -> str:
    """Create the learner's account in ``group`` or re-enable it; returns ``"created"``, ``"enabled"`` or
    ``"unchanged"``. Refuses an existing account that is not in ``group``."""
    if not exists(name):
        _run("useradd", "--create-home", "--shell", "/bin/bash", "--user-group", "--groups", group,
             "--comment", full_name.replace(":", " ")[:60], "-K", "HOME_MODE=0700", name)
        os.chmod(lookup(name).home, 0o700)
        return "created"
    if name not in members(group):
        raise AccountError(f"the roster names {name!r}, an existing account that labkit did not create (it is not "
                           f"in the group {group}): rename the learner's id in the roster")
    if disabled(name):
        _run("usermod", "--expiredate", "", name)
        return "enabled"
    return "unchanged"


def create_plain(name: str, comment: str) -> None:
    """An account outside any learners' group (an instructor's), with a private home."""
    _run("useradd", "--create-home", "--shell", "/bin/bash", "--user-group", "--comment", comment[:60],
         "-K", "HOME_MODE=0700", name)


def disabled(name: str) -> bool:
    """Whether the account is expired (as :func:`disable` leaves it)."""
    with open("/etc/shadow") as fh:
        for line in fh:
            fields = line.split(":")
            if fields[0] == name:
                return fields[7].strip() != ""  # an expiry date: disable() sets one
    return False


def disable(name: str, group: str) -> bool:
    """Expire a learner's account (a learner the roster no longer lists); home and grades stay.
    Returns whether anything changed."""
    if name not in members(group) or disabled(name):
        return False
    _run("usermod", "--expiredate", "1", name)
    return True
