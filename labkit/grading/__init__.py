"""Grading: partial-credit checks for test cells and ``labkit grade``, the sandboxed autograding engine.

Which module does what, in the order a submission meets them (the stages of one submission are listed once,
in order, as :data:`labkit.grading.engine.STAGES`):

========================  ==========================================================================
``plan``                  what every submission of one lab shares: points, test cells, hidden lines
``intake``                a learner's hand-in merged onto the source: locked and test cells restored
``guard``                 the static scan that flags code reaching for the grader; the restorable snapshot
``sandbox``               the zygote, cgroups, namespaces, rlimits and relays a kernel runs in
``kernel``                one sandboxed kernel, driven over ZeroMQ, with its referee's channel
``referee``               in the kernel: runs test cells out of the learner's reach, reports them signed
``tripwires``             in the kernel: the audit hook, the thread gate, the shell's fingerprint
``channel``               the signed datagrams from referee to grader
``checks``                ``Checks``, what a test cell calls; ``canonical``: the plain values it compares
``scoring``               a test cell's score from its report (fail closed)
``results``               ``Question``, ``Result``, ``Run``
``gradebook``             nbgrader's gradebook and labkit's journal, one transaction per submission
``defang``                the graded copy made safe for the formgrader: no learner HTML or scripts run there
``engine``                ``labkit grade``: the run, and the stages of one submission
``slicing``               which demo cells grading may skip
``spark_server``          the one sandboxed Spark Connect server a run's kernels share
``feedback``, ``report``  per-learner feedback HTML; the instructor's report
``nbgrader``, ``demo``    nbgrader's API (release, export); the demo submissions
``cells``                 nbgrader's cell metadata, read in one place
========================  ==========================================================================
"""
