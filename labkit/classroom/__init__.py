"""Running the course for a whole class on one machine: the course file, deadlines, the roster, the
nbgrader exchange made safe, JupyterHub, the shared gradebook and grade export to an LMS.

One module per concept:

* :mod:`labkit.classroom.course_file` — ``grading/course.yml``: course id, instructors, roster, labs with
  due dates, the late policy and each learner's resources;
* :mod:`labkit.classroom.deadlines` — due date, hard deadline, extensions and the late penalty;
* :mod:`labkit.classroom.roster` — learners from a CSV into accounts (:mod:`~labkit.classroom.accounts`),
  nbgrader's students and inbounds;
* :mod:`labkit.classroom.exchange` — the exchange's layout and modes: release to the class, each learner's
  private inbound, feedback; :mod:`~labkit.classroom.exchange_client` the learner's side (nbgrader's classes);
* :mod:`labkit.classroom.collect` — one submission per learner, trusting nothing a learner wrote;
* :mod:`labkit.classroom.class_env` — the Python environment every learner's account can run;
* :mod:`labkit.classroom.postgres` — a throwaway PostgreSQL cluster for a shared gradebook;
* :mod:`labkit.classroom.lms` — grades out to Canvas, Moodle or CSV (:mod:`~labkit.classroom.lms_export`), an
  LMS's submissions zip in (:mod:`~labkit.classroom.lms_import`);
* :mod:`labkit.classroom.commands` — the command-line side of all this.
"""


def errors() -> tuple[type[Exception], ...]:
    """Every error the class's modules raise for a person to read (the command line prints them in one line)."""
    from labkit.classroom.accounts import AccountError
    from labkit.classroom.class_env import ClassEnvError
    from labkit.classroom.course_file import CourseFileError
    from labkit.classroom.deadlines import DeadlineError
    from labkit.classroom.exchange import ExchangeError
    from labkit.classroom.hub import HubError
    from labkit.classroom.roster import RosterError
    from labkit.serving.process import ServiceError

    return (AccountError, ClassEnvError, CourseFileError, DeadlineError, ExchangeError, HubError, RosterError,
            ServiceError)
