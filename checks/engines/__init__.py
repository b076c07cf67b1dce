"""The engines: how a cell's inputs are searched. Each takes a kernel image, a user, a protocol and
a budget, and returns an ``EngineRun`` (checks/verdicts.py); none decides a verdict. checks/cell.py
sequences them.

* ``exhaustive``: every distinct execution within the profile's exhaustive bounds, the world's
  choices asked for as the run makes them (a stateless model checker). The only source of CONFIRMED.
* ``enumerate``: the previous exhaustive engine, every whole input of the bounds, kept to compare
  the two (tests/detection/test_engines_agree.py) and in ``make bench``.
* ``hypothesis``: Hypothesis over the larger scope, a count budget and a fixed seed.
* ``crosshair``: CrossHair over the larger scope (``crosshair_harness`` is the analysed function).

``ceiling`` bounds every engine's wall time for a cell: past it the engine's run is UNKNOWN.
"""
