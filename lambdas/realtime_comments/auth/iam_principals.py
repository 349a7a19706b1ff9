"""Which IAM principals may call the broadcast endpoint (the HTTP API's IAM authorizer only
proves *who* signed; HTTP APIs have no resource policy, so the handler decides *whether*).

Allowed entries are IAM ARNs: a role `arn:aws:iam::<account>:role[/path]/<name>` admits every
session of that role (API Gateway reports `arn:aws:sts::<account>:assumed-role/<name>/<session>`,
which carries no path); a user `arn:aws:iam::<account>:user[/path]/<name>` admits that user.
Nothing else matches: no wildcards, no account-wide entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ROLE = re.compile(r"arn:(aws[\w-]*):iam::(\d{12}):role/(?:[^/]+/)*([^/]+)")
_USER = re.compile(r"arn:(aws[\w-]*):iam::(\d{12}):user/(?:[^/]+/)*[^/]+")
_SESSION = re.compile(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/[^/]+")


@dataclass(frozen=True)
class PrincipalAllowList:
    roles: frozenset[tuple[str, str, str]]  # (partition, account, role name)
    users: frozenset[str]

    @classmethod
    def from_arns(cls, arns: Iterable[str]) -> PrincipalAllowList:
        roles, users = set(), set()
        for arn in arns:
            if role := _ROLE.fullmatch(arn):
                roles.add((role[1], role[2], role[3]))
            elif _USER.fullmatch(arn):
                users.add(arn)
            else:
                raise ValueError(f"not an IAM role or user ARN: {arn!r}")
        return cls(frozenset(roles), frozenset(users))

    def allows(self, caller_arn: object) -> bool:
        """Whether `caller_arn` (requestContext.authorizer.iam.userArn) is on the list."""
        if not isinstance(caller_arn, str):
            return False
        if session := _SESSION.fullmatch(caller_arn):
            return (session[1], session[2], session[3]) in self.roles
        if role := _ROLE.fullmatch(caller_arn):
            return (role[1], role[2], role[3]) in self.roles
        return caller_arn in self.users
