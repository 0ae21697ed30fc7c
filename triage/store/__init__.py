"""Where the service keeps everything: the `Store` interface and its backends."""
