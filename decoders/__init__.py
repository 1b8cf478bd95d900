"""decoders package (see DESIGN.md)."""
