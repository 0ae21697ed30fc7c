"""Hash-list file formats: vPDQ text and our JSONL."""
