"""Local runtime for the Realtime Comments stack.

Runs the synthesized CloudFormation template on one machine (no AWS account, no Docker).
See docs/local-runtime.md. Entry point: ``python -m local_runtime``.
"""
