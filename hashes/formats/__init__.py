"""Hash-list file formats: `vpdq` (Meta's vPDQ text, one file per video) and `jsonl` (our
list, one record per reference). Import each name from the module that owns it."""
