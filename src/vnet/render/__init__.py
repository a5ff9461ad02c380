"""Pure renderers: data in, text out."""
