"""The text fields people send, each limit written once: JSON bodies, multipart forms and the
pages' forms validate with these types, so the limits and the messages are the same on every
path (and the pages' inputs carry the same `maxlength`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

NOTE_MAX_CHARS = 2000
EXTERNAL_ID_MAX_CHARS = 200
LABEL_MAX_CHARS = 200
REFERENCE_ID_MAX_CHARS = 200

Note = Annotated[str, StringConstraints(max_length=NOTE_MAX_CHARS)]
"""A person's note: a submitter's for the reviewers, or a reviewer's on a decision."""

ExternalId = Annotated[str, StringConstraints(max_length=EXTERNAL_ID_MAX_CHARS)]
"""The reporter's own reference for a case, returned with every referral of it."""

Label = Annotated[str, StringConstraints(max_length=LABEL_MAX_CHARS)]
"""A reference's name, as moderators read it."""

ReferenceId = Annotated[str, StringConstraints(max_length=REFERENCE_ID_MAX_CHARS)]
"""A reference's id, chosen by the admin who adds it."""

UploadedFile = Annotated[bytes, Field(json_schema_extra={"format": "binary"})]
"""A multipart form's file part: streamed to disk, never held as a value; documented only."""
