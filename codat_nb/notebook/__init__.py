"""Notebook presentation: HTML cards and tables, and the ipywidgets panels."""
