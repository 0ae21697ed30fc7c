"""The development set: seeded edits of the source clips and of footage made here.

Same layout and manifest as the shared bench, so `triage bench --bench-dir DIR` scores it.
Every default (thresholds, parameters) is chosen on this set; the bench is only reported.
"""
