"""The example project's own model and optimizer (examples/user_project/README.md)."""
