"""gtn package (see DESIGN.md)."""
