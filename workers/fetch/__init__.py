"""Getting media from the internet, held to the address guard.

`download` fetches a direct media URL through the guarded connector; `resolve` turns a post
page into media URLs with yt-dlp in a child process (`resolve_child`) that reaches the network
only through the guarded `proxy`; `guard` decides which addresses may be reached; `sniff`
tells the media type from the first bytes; `types` and `errors` are what callers pass in and
get back.
"""
