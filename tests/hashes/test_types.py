"""Value types (`hashes.types`): the view names that hash lists and evidence store."""

from __future__ import annotations

from hashes.types import View


def test_views_keep_the_names_stored_records_carry() -> None:
    # Hash lists (derived rows), stored hashes and match evidence name views by these
    # strings; the dihedral variants have been "flip" from the start.
    assert [view.value for view in View] == [
        "full", "active", "inner", "region", "flip", "tilt", "side", "zoom",
    ]  # fmt: skip
    assert View("flip") is View.DIHEDRAL
