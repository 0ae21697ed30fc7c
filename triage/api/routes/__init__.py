"""The API's operations, one module per resource; each exposes `OPERATIONS`."""
