"""Views of a frame: the parts of a picture that are hashed besides the whole frame.

Edits that change the geometry (letterbox, padding, a video over a blurred copy of itself,
captions, picture-in-picture, split screens, crops, a filmed screen) move the reference's
pixels to a part of the query frame. These modules say where such parts lie, so the reference
meets its own pixels. Box geometry (`boxes`, `layouts`, `crops`) reads no pixels; detection
(`borders`, `framed_panes`, `insets`) reads them; `pane_grids` and `tilt` make the 64x64 grids
of views more cheaply than cutting each one out. Import each name from the module that owns it.
"""
