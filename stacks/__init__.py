"""Realtime Comments CDK app: stage configuration (``stacks.stage_config``) and the per-stage stack
(``stacks.realtime_comments_stack``). The application constructs in ``realtime_constructs/`` are
imported as ``realtime_comments_cdk`` (the package they install as), never through ``stacks``.
"""
