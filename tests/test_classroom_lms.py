"""labkit.classroom.lms: grades out to Canvas/Moodle/CSV from a real nbgrader gradebook, read back by independent
parsers; an LMS's submissions zip in, with hostile zips refused and nothing written outside the destination."""

from __future__ import annotations

import csv
import datetime
import io
import json
import stat
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.classroom import lms, lms_export, lms_import
from labkit.classroom.lms import LmsError, LmsWarning, export_grades, import_submissions
from labkit.classroom.roster import Learner
from labkit.grading import intake

ROSTER = "id,name,email,lms_id\nada,Ada Lovelace,Ada@Example.org,111\nbob,Bob Builder,bob@example.org,\n" \
         "cy,Zoë Çelik,cy@example.org,333\n"


# --- a real gradebook ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gradebook(tmp_path_factory) -> str:
    """04_metrics (q1 4 + q2 6 points) and 05_hpo (5 points). ada: both labs, late on both; bob: 04 only, no
    penalty recorded (None); cy: in the roster, nothing in the gradebook; demo_x: graded, not in the roster."""
    from nbgrader.api import Gradebook

    from labkit.paths import ensure_venv_bin_on_path

    ensure_venv_bin_on_path()
    url = f"sqlite:///{tmp_path_factory.mktemp('lms') / 'gradebook.db'}"
    with Gradebook(url) as gb, gb.db.no_autoflush:
        for lab, cells in (("04_metrics", {"q1": 4, "q2": 6}), ("05_hpo", {"h1": 5})):
            gb.add_assignment(lab)
            gb.add_notebook(lab, lab)
            for cell, points in cells.items():
                gb.add_grade_cell(cell, lab, lab, max_score=points, cell_type="code")
        gb.add_student("ada", first_name="Ada", last_name="Lovelace", email="ada@example.org")
        gb.add_student("bob", first_name="Bob", last_name="Builder")
        gb.add_student("demo_x", first_name="Demo", last_name="Learner", lms_user_id="999")
        scores = {("ada", "04_metrics"): ({"q1": 3, "q2": 5.5}, 1.25), ("ada", "05_hpo"): ({"h1": 2}, 3.0),
                  ("bob", "04_metrics"): ({"q1": 4, "q2": 0}, None), ("demo_x", "04_metrics"): ({"q1": 1}, 0.0)}
        for (student, lab), (grades, penalty) in scores.items():
            gb.add_submission(lab, student, timestamp=datetime.datetime(2026, 1, 5))
            for cell, value in grades.items():
                gb.find_grade(cell, lab, lab, student).manual_score = value
            gb.find_submission_notebook(lab, lab, student).late_submission_penalty = penalty
        gb.db.commit()
    return url


@pytest.fixture()
def roster(tmp_path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    return path


def _rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "neither LMS asks for a byte-order mark"
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def test_canvas_export_has_canvas_headers_points_row_penalties_and_every_roster_learner(gradebook, roster, tmp_path):
    out = tmp_path / "canvas.csv"
    with pytest.warns(LmsWarning, match="demo_x"):
        n = export_grades(gradebook, "canvas", out, roster=roster, assignment_ids={"04_metrics": "9001"})
    rows = _rows(out)
    assert n == 3 and len(rows) == 2 + 3
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "04_metrics (9001)", "05_hpo",
                       "Final Points"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "5", "(read only)"]
    by_login = {r[3]: r for r in rows[2:]}
    assert by_login["ada"] == ["Ada Lovelace", "111", "", "ada", "", "7.25", "0", "7.25"]  # 8.5-1.25; 2-3 → 0
    assert by_login["bob"] == ["Bob Builder", "", "", "bob", "", "4", "", "4"]  # no 05 submission: blank
    assert by_login["cy"] == ["Zoë Çelik", "333", "", "cy", "", "", "", "0"]  # no gradebook entry at all
    assert [r[3] for r in rows[2:]] == ["ada", "bob", "cy"]  # roster order


def test_moodle_export_read_back_by_pandas(gradebook, roster, tmp_path):
    out = tmp_path / "moodle.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LmsWarning)
        assert export_grades(gradebook, "moodle", out, roster=roster) == 3
    df = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8")
    assert list(df.columns) == ["First name", "Last name", "Username", "Email address", "04_metrics", "05_hpo",
                                "Course total"]
    df = df.set_index("Username")
    assert df.loc["ada", "Email address"] == "Ada@Example.org"  # as the roster has it: Moodle may compare exactly
    assert (df.loc["ada", "04_metrics"], df.loc["ada", "05_hpo"], df.loc["ada", "Course total"]) == ("7.25", "0",
                                                                                                    "7.25")
    assert (df.loc["bob", "05_hpo"], df.loc["cy", "04_metrics"], df.loc["cy", "Course total"]) == ("-", "-", "0")
    assert (df.loc["cy", "First name"], df.loc["cy", "Last name"]) == ("Zoë", "Çelik")


def test_plain_csv_has_score_penalty_final_and_total(gradebook, roster, tmp_path):
    out = tmp_path / "grades.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LmsWarning)
        export_grades(gradebook, "csv", out, roster=roster)
    df = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("id")
    assert list(df.columns) == ["name", "email", "04_metrics score", "04_metrics penalty", "04_metrics final",
                                "05_hpo score", "05_hpo penalty", "05_hpo final", "total"]
    assert df.loc["ada", ["04_metrics score", "04_metrics penalty", "04_metrics final"]].tolist() == ["8.5", "1.25",
                                                                                                      "7.25"]
    assert df.loc["bob", ["04_metrics penalty", "05_hpo score", "total"]].tolist() == ["0", "", "4"]
    assert df.loc["cy", "email"] == "cy@example.org"


def test_without_a_roster_every_gradebook_student_gets_a_row_and_labs_can_be_picked(gradebook, tmp_path):
    out = tmp_path / "all.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no roster: nobody is left out, nothing to warn about
        assert export_grades(gradebook, "canvas", out, labs=["04"]) == 3
    rows = _rows(out)
    assert rows[0][5:] == ["04_metrics", "Final Points"]
    assert [(r[0], r[1], r[3], r[5]) for r in rows[2:]] == [("Ada Lovelace", "", "ada", "7.25"),
                                                           ("Bob Builder", "", "bob", "4"),
                                                           ("Demo Learner", "999", "demo_x", "1")]


@pytest.mark.parametrize(("call", "message"), [
    (dict(fmt="excel"), "unknown format"),
    (dict(fmt="csv", labs=["11"]), "no lab '11'"),
    (dict(fmt="canvas", assignment_ids={"04_metrics": "abc"}), "not a number"),
])
def test_bad_requests_are_refused_with_the_fix(gradebook, tmp_path, call, message):
    with pytest.raises(LmsError, match=message):
        export_grades(gradebook, path=tmp_path / "x.csv", **call)


def test_a_lab_titled_like_a_canvas_total_column_is_refused(tmp_path):
    table = lms_export.Table(["Final Score lab"], {"Final Score lab": 1.0}, [lms_export.Person("ada")])
    with mock.patch.object(lms_export, "read_table", return_value=table), pytest.raises(LmsError, match="ignores"):
        export_grades("sqlite://", "canvas", tmp_path / "x.csv")


# --- the property: final = max(0, score - penalty), total = sum of finals ---------------------------------------

_points = st.floats(min_value=0, max_value=100, allow_nan=False).map(lambda x: round(x, 3))
_grade = st.one_of(st.none(), st.tuples(_points, st.one_of(st.none(), _points)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_grade, min_size=3, max_size=3), min_size=1, max_size=6))
def test_final_is_score_less_penalty_floored_and_total_is_their_sum(grid):
    labs = ["01_a", "02_b", "03_c"]
    people = [lms_export.Person(f"l{i}", f"Learner {i}") for i in range(len(grid))]
    table = lms_export.Table(labs, dict.fromkeys(labs, 100.0), people)
    for person, cells in zip(people, grid, strict=True):
        for lab, cell in zip(labs, cells, strict=True):
            if cell is not None:
                table.grades[(person.id, lab)] = lms_export.Grade(cell[0], cell[1] or 0.0)
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(lms_export, "read_table", return_value=table):
        export_grades("sqlite://", "csv", Path(tmp) / "p.csv")
        export_grades("sqlite://", "canvas", Path(tmp) / "c.csv")
        plain = list(csv.DictReader(open(Path(tmp) / "p.csv", encoding="utf-8", newline="")))
        canvas = list(csv.reader(open(Path(tmp) / "c.csv", encoding="utf-8", newline="")))[2:]
    for row, crow, cells in zip(plain, canvas, grid, strict=True):
        finals = []
        for i, (lab, cell) in enumerate(zip(labs, cells, strict=True)):
            if cell is None:
                assert row[f"{lab} final"] == "" and crow[5 + i] == ""
                continue
            expected = max(0.0, cell[0] - (cell[1] or 0.0))
            assert abs(float(row[f"{lab} final"]) - expected) <= 0.005 + 1e-9
            assert float(row[f"{lab} final"]) >= 0 and crow[5 + i] == row[f"{lab} final"]
            finals.append(float(row[f"{lab} final"]))
        assert abs(float(row["total"]) - sum(finals)) < 1e-6 and crow[-1] == row["total"]


# --- the CLI commands ------------------------------------------------------------------------------------------

def _cli():
    from labkit.cli import _Group

    group = _Group()
    group.add_command(lms.lms_export_command, "export")
    group.add_command(lms.lms_import_command, "import-submissions")
    return group


def test_export_command_writes_the_format_and_warns_about_learners_left_out(gradebook, roster, tmp_path):
    out = tmp_path / "moodle.csv"
    fake = SimpleNamespace(coursedir=SimpleNamespace(db_url=gradebook))
    with mock.patch("labkit.grading.nbgrader.api", return_value=fake):
        result = CliRunner().invoke(_cli(), ["export", "--format", "moodle", "-o", str(out), "--lab", "04_metrics",
                                             "--roster", str(roster)])
        bad = CliRunner().invoke(_cli(), ["export", "--format", "canvas", "-o", str(out), "--lab", "99"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 learner(s)" in result.output and "demo_x" in result.output
    assert _rows(out)[0][4:] == ["04_metrics", "Course total"]
    assert bad.exit_code == 4 and "no lab '99'" in bad.output


# --- submissions zips ------------------------------------------------------------------------------------------

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def _zip(path: Path, entries: list) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in entries:
            info, data = entry if isinstance(entry, tuple) else (entry, NB)
            zf.writestr(info, data)
    return path


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture()
def box(tmp_path):
    """(tmp, dest, files before): every test checks nothing appears outside dest."""
    dest = tmp_path / "box" / "dest"
    return tmp_path, dest


def _only_dest_changed(tmp: Path, dest: Path, before: set[Path]) -> None:
    outside = {p for p in _files(tmp) - before if dest not in p.parents}
    assert not outside, outside
    assert not list(dest.rglob(".lms-*")), "partial files left behind"


def test_canvas_zip_with_late_and_duplicate_submissions(box):
    tmp, dest = box
    z = _zip(tmp / "canvas.zip", [
        "lovelaceada_111_5001_04_metrics.ipynb",
        ("lovelaceada_LATE_111_5003_04_metrics-1.ipynb", NB.replace(b"{}", b'{"late": 1}')),
        ("builderbob_222_6009_04_metrics.ipynb", NB.replace(b"{}", b'{"v": 2}')),
        "builderbob_222_6001_04_metrics.ipynb",
        "builderbob_222_6010_scratch.ipynb",
        "builderbob_222_6011_notes.txt",
    ])
    before = _files(tmp)
    report = import_submissions(z, "04_metrics", dest, {"111": "ada", "222": "bob"})
    _only_dest_changed(tmp, dest, before)
    assert sorted(report.imported) == ["ada", "bob"]
    assert json.loads((dest / "ada" / "04_metrics.ipynb").read_bytes())["metadata"] == {"late": 1}
    assert json.loads((dest / "bob" / "04_metrics.ipynb").read_bytes())["metadata"] == {"v": 2}  # higher id
    reasons = dict(report.skipped)
    assert "more than once" in reasons["'lovelaceada_111_5001_04_metrics.ipynb'"]
    assert "more than once" in reasons["'builderbob_222_6001_04_metrics.ipynb'"]
    assert "more than once" in reasons["'builderbob_222_6010_scratch.ipynb'"]  # the lab's own notebook wins
    assert "not a notebook" in reasons["'builderbob_222_6011_notes.txt'"]
    subs = intake.discover(dest, "04_metrics.ipynb")
    assert [(s.student, s.problems, s.warnings) for s in subs] == [("ada", [], []), ("bob", [], [])]


def test_moodle_zip_in_folders_or_flat_is_matched_by_roster_name(box, roster):
    tmp, dest = box
    z = _zip(tmp / "moodle.zip", [
        zipfile.ZipInfo("Ada Lovelace_4711_assignsubmission_file_/"),
        "Ada Lovelace_4711_assignsubmission_file_/04_metrics.ipynb",
        "Bob Builder_4712_assignsubmission_file_scratch.ipynb",
        ("Bob Builder_4712_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>"),
        "Mallory Unknown_4713_assignsubmission_file_/04_metrics.ipynb",
    ])
    report = import_submissions(z, "04_metrics", dest, roster)
    assert sorted(report.imported) == ["ada", "bob"]
    assert (dest / "bob" / "04_metrics.ipynb").read_bytes() == NB
    assert any("bob handed in scratch.ipynb: saved as 04_metrics.ipynb" in n for n in report.notes)
    reasons = dict(report.skipped)
    assert "not in the roster" in reasons["'Mallory Unknown_4713_assignsubmission_file_/04_metrics.ipynb'"]
    assert "not a notebook" in reasons["'Bob Builder_4712_assignsubmission_onlinetext_/onlinetext.html'"]


def test_without_a_roster_canvas_learners_are_their_canvas_ids(box):
    tmp, dest = box
    z = _zip(tmp / "c.zip", ["lovelaceada_111_5001_04_metrics.ipynb", "readme.txt", "__MACOSX/._x.ipynb"])
    report = import_submissions(z, "04_metrics", dest)
    assert list(report.imported) == ["111"] and (dest / "111" / "04_metrics.ipynb").is_file()
    assert {e for e, _ in report.skipped} == {"'readme.txt'", "'__MACOSX/._x.ipynb'"}
    assert all("not a Canvas or Moodle submission file name" in r for _, r in report.skipped)


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize(("entry", "message"), [
    ("../lovelaceada_111_5001_04_metrics.ipynb", "'..'"),
    ("x/../../lovelaceada_111_5001_04_metrics.ipynb", "'..'"),
    ("..\\..\\lovelaceada_111_5001_04_metrics.ipynb", "'..'"),
    ("/tmp/lovelaceada_111_5001_04_metrics.ipynb", "absolute path"),
    ("C:/lovelaceada_111_5001_04_metrics.ipynb", "absolute path"),
    (_symlink("lovelaceada_111_5001_04_metrics.ipynb", "/etc/passwd"), "symbolic link"),
    (_symlink("Ada Lovelace_4711_assignsubmission_file_/04_metrics.ipynb", "../../x"), "symbolic link"),
])
def test_hostile_entries_are_refused_and_nothing_escapes(box, entry, message):
    tmp, dest = box
    z = _zip(tmp / "evil.zip", [entry])
    before = _files(tmp)
    report = import_submissions(z, "04_metrics", dest, {"111": "ada", "4711": "ada"})
    _only_dest_changed(tmp, dest, before)
    assert report.imported == {} and len(report.skipped) == 1 and message in report.skipped[0][1]
    assert not _files(dest)


def test_an_entry_declaring_more_than_intake_allows_is_refused_unread(box):
    assert lms_import.MAX_BYTES is intake.MAX_BYTES  # one home for the per-notebook limit
    tmp, dest = box
    z = _zip(tmp / "big.zip", [("lovelaceada_111_5001_04_metrics.ipynb", b"\0" * (intake.MAX_BYTES + 1)),
                               "builderbob_222_6001_04_metrics.ipynb"])
    report = import_submissions(z, "04_metrics", dest, {"111": "ada", "222": "bob"})
    assert list(report.imported) == ["bob"]
    assert "the limit is 20 MiB" in dict(report.skipped)["'lovelaceada_111_5001_04_metrics.ipynb'"]


def _lie_about_size(path: Path, declared: int) -> None:
    """Rewrite the central directory's uncompressed size of every entry (what zipfile trusts) to ``declared``."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into("<I", data, at + 24, declared)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def test_a_bomb_that_lies_about_its_size_is_stopped(box):
    tmp, dest = box
    z = _zip(tmp / "liar.zip", [("lovelaceada_111_5001_04_metrics.ipynb", b"\0" * 2**20)])
    _lie_about_size(z, 1000)
    before = _files(tmp)
    report = import_submissions(z, "04_metrics", dest, {"111": "ada"})
    _only_dest_changed(tmp, dest, before)
    assert report.imported == {} and "lies about its size" in report.skipped[0][1]
    assert not (dest / "ada" / "04_metrics.ipynb").exists()


def test_the_total_cap_stops_a_bomb_of_many_small_entries(box):
    tmp, dest = box
    names = [f"learner{i}_{100 + i}_{9000 + i}_04_metrics.ipynb" for i in range(5)]
    z = _zip(tmp / "many.zip", [(n, b"\0" * 2**20) for n in names])
    report = import_submissions(z, "04_metrics", dest, max_total=int(2.5 * 2**20))
    assert sorted(report.imported) == ["100", "101"]
    assert sum("total size cap" in reason for _, reason in report.skipped) == 3
    assert sum(p.stat().st_size for p in _files(dest)) <= 2.5 * 2**20
    assert not list(dest.rglob(".lms-*"))


def test_a_learner_folder_that_is_a_symlink_is_not_followed(box):
    tmp, dest = box
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir(parents=True)
    (dest / "ada").symlink_to(elsewhere)
    z = _zip(tmp / "c.zip", ["lovelaceada_111_5001_04_metrics.ipynb"])
    report = import_submissions(z, "04_metrics", dest, {"111": "ada"})
    assert report.imported == {} and "not a plain folder" in report.skipped[0][1]
    assert not list(elsewhere.iterdir())


def test_ambiguous_names_unsafe_ids_and_non_zips_are_reported(box):
    tmp, dest = box
    twins = [Learner("ada1", "Ada Lovelace", "a@x.org"), Learner("ada2", "Ada Lovelace", "b@x.org")]
    z = _zip(tmp / "m.zip", ["Ada Lovelace_1_assignsubmission_file_/04_metrics.ipynb"])
    assert "several roster learners" in import_submissions(z, "04_metrics", dest, twins).skipped[0][1]
    odd = _zip(tmp / "o.zip", ["O'Brien Pat_2_assignsubmission_file_/04_metrics.ipynb"])
    assert "give a roster" in import_submissions(odd, "04_metrics", dest).skipped[0][1]
    (tmp / "not.zip").write_bytes(b"hello")
    with pytest.raises(LmsError, match="not a readable zip"):
        import_submissions(tmp / "not.zip", "04_metrics", dest)
    with pytest.raises(LmsError, match="plain file name"):
        import_submissions(z, "04_metrics", dest, notebook="../x.ipynb")


def test_import_command_fills_the_folder_and_fails_when_nothing_imports(box):
    tmp, dest = box
    good = _zip(tmp / "good.zip", ["lovelaceada_111_5001_04_metrics.ipynb", "../evil.ipynb"])
    result = CliRunner().invoke(_cli(), ["import-submissions", str(good), "04", "--into", str(dest)])
    assert result.exit_code == 0, result.output
    assert "1 notebook(s) imported" in result.output and "'..'" in result.output
    assert "labkit grade 04_metrics" in result.output and (dest / "111" / "04_metrics.ipynb").is_file()
    empty = _zip(tmp / "empty.zip", ["../evil.ipynb"])
    assert CliRunner().invoke(_cli(), ["import-submissions", str(empty), "04", "--into", str(dest)]).exit_code == 1
    unknown = CliRunner().invoke(_cli(), ["import-submissions", str(good), "99", "--into", str(dest)])
    assert unknown.exit_code == 2 and "no lab called '99'" in unknown.output
