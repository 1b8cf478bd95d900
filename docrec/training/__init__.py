"""Training recipes of the end-to-end recognisers (segmentation-based and SDNN)."""
