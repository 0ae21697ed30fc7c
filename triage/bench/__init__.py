"""Measure the matcher on a labelled set of references and edited queries.

`manifest` reads the labels, `runner` hashes and matches (the matcher never sees a label),
`scoring` turns verdicts into per-family rates, `cost` measures time against the decode floor,
`ablation` switches mechanisms off one at a time, and `report` prints tables or JSON.
"""
