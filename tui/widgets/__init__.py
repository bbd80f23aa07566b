"""Reusable widgets of the virtstack TUI."""
