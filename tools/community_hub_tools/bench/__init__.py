"""``community-hub bench``: measured, not hoped. Results go to docs/benchmarks.md."""
