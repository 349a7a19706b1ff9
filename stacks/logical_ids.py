"""Logical ids as they were before each environment became a ``cdk.Stage``.

CDK derives some construct ids from another construct's ``Names.node_unique_id`` (an event source
mapping is ``SqsEventSource:<queue's unique id>``; the WebSocket authorizer's Lambda permission
embeds the authorizer's), and a unique id spells the whole construct path, the stage's id
included. Moving the stack into a Stage therefore renamed the stream and queue event source
mappings (a stream mapping's position is state) and one permission. ``keep_pre_stage_logical_ids``
gives them back the ids they had when the stack was the app's top-level construct named
``stack_name``, so existing deployments update in place.

``unique_id`` is CDK's ``makeUniqueId`` (aws-cdk-lib core/lib/private/uniqueid.ts);
tests/infra holds it against CDK's own ids of every resource.
"""

from __future__ import annotations

import hashlib
import re

from aws_cdk import CfnElement, Stack

_HIDDEN_ID = "Default"
_HIDDEN_FROM_HUMAN_ID = "Resource"
_MAX_HUMAN_LEN = 240
_MAX_ID_LEN = 255


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def unique_id(components: list[str]) -> str:
    """CDK's unique id of a construct path (logical ids: the path below the stack)."""
    components = [c for c in components if c != _HIDDEN_ID]
    if not components:
        raise ValueError("unique id of an empty path")
    if len(components) == 1 and len(_alphanumeric(components[0])) <= _MAX_ID_LEN:
        return _alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "".join(_alphanumeric(c) for c in human if c != _HIDDEN_FROM_HUMAN_ID)
    return readable[:_MAX_HUMAN_LEN] + digest


# An embedded unique id ends in its 8-character path hash.
_EMBEDS_UNIQUE_ID = re.compile(r"[0-9A-F]{8}")


def keep_pre_stage_logical_ids(stack: Stack, stack_name: str) -> dict[str, str]:
    """Override the logical id of every resource whose id embeds another construct's unique id
    with the id it had when the stack was top-level with id ``stack_name``. Returns old by new."""
    # One jsii round trip per construct (its path); everything else is computed here.
    prefix = stack.node.path + "/"
    below: dict[str, list[str]] = {}  # construct path -> its ids below the stack
    elements: dict[str, CfnElement] = {}
    for construct in stack.node.find_all():
        path = construct.node.path
        if path.startswith(prefix):
            below[path] = path[len(prefix) :].split("/")
            if isinstance(construct, CfnElement):
                elements[path] = construct
    stage_path = stack.node.path.split("/")
    renamed = {  # a construct's unique id in the stage -> before it
        unique_id([*stage_path, *ids]): unique_id([stack_name, *ids]) for ids in below.values()
    }
    moved: dict[str, str] = {}
    for path, element in elements.items():
        components = below[path]
        if not any(_EMBEDS_UNIQUE_ID.search(c) for c in components):
            continue
        old_components = []
        for component in components:
            if _EMBEDS_UNIQUE_ID.search(component):
                for new, old in renamed.items():
                    if new in component:
                        component = component.replace(new, old)
            old_components.append(component)
        if old_components == components:
            continue
        before, now = unique_id(old_components), stack.get_logical_id(element)
        if before != now:
            element.override_logical_id(before)
            moved[now] = before
    return moved
