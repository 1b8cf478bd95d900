"""lenet package (see DESIGN.md)."""
