# labkit — one-command set-up and the course's jobs.
# `make course` and `make test` each do all set-up themselves on a fresh machine.

PYTHON      ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
TF_VERSION  := 2.15.1
HVD_VERSION := 0.28.1
# The set-up stamp is keyed on the files that decide what is installed, so `make setup`
# is near-instant when nothing changed and re-runs when a dependency changes.
DEPS_KEY    := $(shell cat pyproject.toml .ci/setup.sh 2>/dev/null | sha256sum | cut -c1-16)
STAMP       := $(VENV)/.setup-$(DEPS_KEY)

export PYTHON VENV TF_VERSION HVD_VERSION

.PHONY: setup test test-browser course lab formgrader hub bench bench-hpo bench-nn bench-dl bench-mistakes bench-seq bench-dist bench-serving bench-classroom bench-sizing bench-grading lint release doctor clean help
.DEFAULT_GOAL := help

help:
	@echo "make course   release, execute and autograde the whole course, print a report"
	@echo "make test     run the test suite (does all set-up first)"
	@echo "make test-browser   the labs and the formgrader in a real JupyterLab, driven in headless Chromium"
	@echo "make lab      start JupyterLab on labs/ with the kit's kernel (Ctrl-C stops it)"
	@echo "make formgrader   start the instructor's view: nbgrader's formgrader on the course"
	@echo "make hub     as root: serve the class in grading/course.yml with JupyterHub (README: Running a class)"
	@echo "make bench    run the benchmarks, write benchmarks/results.md"
	@echo "make bench-hpo / bench-nn / bench-dl / bench-mistakes / bench-seq / bench-dist / bench-serving / bench-classroom / bench-sizing / bench-grading   refresh only those sections"
	@echo "make setup    create .venv and install everything (Horovod's build included)"
	@echo "make lint     ruff"

setup: $(STAMP)

$(STAMP): pyproject.toml .ci/setup.sh
	bash .ci/setup.sh
	@rm -f $(VENV)/.setup-*
	@touch $@

test: setup
	$(VENV)/bin/pytest -q -m "not browser"

test-browser: setup  ## installs Debian's Chromium if missing (root or sudo), then the browser suite (about 15 minutes)
	bash .ci/setup-browser.sh
	$(VENV)/bin/pytest -q -m browser tests/browser

course: setup
	$(VENV)/bin/labkit course

lab: setup
	$(VENV)/bin/labkit lab

formgrader: setup
	$(VENV)/bin/labkit formgrader

hub: setup  ## as root: JupyterHub for the class in grading/course.yml (builds the class environment the first time)
	$(VENV)/bin/labkit hub

bench: setup
	$(PY) benchmarks/run.py

bench-hpo: setup  ## refresh only the HPO sections of benchmarks/results.md (about 10 minutes)
	$(PY) benchmarks/hpo.py

bench-nn: setup  ## refresh only the labkit.nn sections of benchmarks/results.md (about 6 minutes)
	$(PY) benchmarks/nn.py

bench-dl: setup  ## refresh only lab 07's Keras sections of benchmarks/results.md (about 10 minutes)
	$(PY) benchmarks/dl.py

bench-mistakes: setup  ## refresh only the mistake-hint table of benchmarks/results.md (under a minute)
	cd benchmarks && ../$(PY) mistakes.py

bench-seq: setup  ## refresh only the sequence-model (lab 09) sections of benchmarks/results.md (about a minute)
	$(PY) benchmarks/sequences.py

bench-dist: setup  ## refresh only the labkit.distributed / Horovod sections of benchmarks/results.md (about 4 minutes)
	$(PY) benchmarks/distributed.py

bench-serving: setup  ## refresh only lab 10's serving section of benchmarks/results.md (about 5 minutes)
	cd benchmarks && ../$(PY) serving.py

bench-classroom: setup  ## refresh only the class-of-200 section of benchmarks/results.md (as root; a few minutes)
	cd benchmarks && ../$(PY) classroom.py

bench-sizing: setup  ## refresh only the memory-per-learner section of benchmarks/results.md (as root; about 40 minutes)
	cd benchmarks && ../$(PY) sizing.py

bench-grading: setup  ## refresh only the grading sections: stock nbgrader vs labkit grade (about 35 minutes)
	cd benchmarks && ../$(PY) grading.py

lint: setup
	$(VENV)/bin/ruff check labkit tests benchmarks datasets

release: setup
	$(VENV)/bin/labkit release

doctor: setup
	$(VENV)/bin/labkit doctor

clean:
	rm -rf build grading/submitted grading/autograded grading/feedback grading/gradebook.db
