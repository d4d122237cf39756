"""Metrics of a canonical run, one module per concern (see DESIGN.md): each a documented function."""
