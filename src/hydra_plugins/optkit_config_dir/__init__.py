"""A user's own config directory before optkit's configs (`optkit-train --config-dir ./conf`)."""
