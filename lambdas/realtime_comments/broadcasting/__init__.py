"""Turning comment changes into messages, and choosing their recipients."""
