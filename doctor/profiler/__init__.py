"""The performance profiler: checkpoints of a fault, its timeline, reports.

:mod:`checkpoints` names the checkpoints and their components,
:mod:`recorder` records them from the services without holding them up,
:mod:`timeline` turns a fault's checkpoints into segments,
:mod:`report` draws them (console, JSON, summary) and :mod:`plot` as a
picture; :mod:`sources` reads them from the API, a database or log files.
"""
