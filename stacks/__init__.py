"""Realtime Comments CDK app: reusable constructs (``stacks.realtime_constructs``), stage
configuration (``stacks.stage_config``) and the per-stage stack (``stacks.realtime_comments_stack``).
"""
