"""Grading: partial-credit checks for test cells and the nbgrader-driven autograding pipeline."""
