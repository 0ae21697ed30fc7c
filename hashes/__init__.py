"""Pure media hashing and matching: files or frames in, values out. No service code."""
