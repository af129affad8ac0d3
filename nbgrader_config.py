"""nbgrader configuration for the labkit course (read by nbgrader, formgrader and `labkit`).

Layout: solutions/ is nbgrader's source directory and labs/ its release directory; everything a
grading run produces (submissions, autograded copies, feedback, the gradebook) lives under grading/
and is git-ignored, except grading/demo/ (the bundled demo submissions).
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

_root = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = _root
c.CourseDirectory.course_id = "labkit"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grading", "solution")
c.CourseDirectory.source_with_tests_directory = os.path.join("grading", "source_with_tests")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_root, "grading", "gradebook.db")
# datasets are read from the course's datasets/ folder, never copied into a lab
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*", "build"]  # a lab run's outputs

# Released notebooks run in the kit's own kernel (installed into .venv by `make setup`).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell timeouts sized for a Spark job or a CNN epoch on 2 cores (nbgrader's default is 30 s).
c.ExecutePreprocessor.timeout = 600
c.Execute.timeout = 600
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True
