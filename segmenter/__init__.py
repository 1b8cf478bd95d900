"""segmenter package (see DESIGN.md)."""
