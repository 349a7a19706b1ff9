"""Lambda entry points: each module exposes `handler` (see docs/design.md for the handler strings)."""
