"""Video (and image) hashing: reference-grade and query-grade frame hashes.

References are sampled at the query rate and hashed full-frame at native resolution (the
hashes that hash lists exchange, close to Meta's vPDQ), plus internal views that stay in our
index: the picture inside its borders (or the whole frame) hashed as queries are, and crops of
it, which a cropped re-upload shows in full (`reference`).

Queries are sampled (a few frames per second) and each sampled frame is hashed in several
views: full frame, inside borders, the sharp inner picture, candidate sub-regions, the
dihedral variants (mirror, 90-degree turns) of the whole picture, pictures of common shapes
at the sides (a split screen's panes), and the picture turned back a few degrees (a filmed
screen) (`query`). The query cascade hashes them in steps (`looks`).

Where in a frame each view lies is `hashes.views`' business; `params` says how each side is
hashed, `frames` reads the sampled frames, `rows` turns grids into the rows of a
`VideoHashes`. Import each name from the module that owns it.
"""
