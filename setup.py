"""Package layout: the installed names differ from the folders users see (pyproject.toml has the
rest of the metadata).

- ``stacks/realtime_constructs/`` installs as ``realtime_comments_cdk`` (the constructs);
- ``lambdas/`` installs inside it as ``realtime_comments_cdk/functions/``, package data that is
  the functions' code asset (found with ``importlib.resources``);
- ``lambdas/realtime_comments/`` also installs as ``realtime_comments``, the functions' library,
  so that the constructs import the settings contract (``realtime_comments.settings``) under the
  one name the functions use;
- ``realtime_comments_client/`` is the broadcast client (``WebSocketService``).

Nothing named ``stacks``, ``lambdas`` or ``handlers`` lands at the top of site-packages.
Sub-packages are found, not listed, so a new construct package ships without touching this file.
"""

from setuptools import find_packages, setup

LAYOUT = {
    "realtime_comments_cdk": "stacks/realtime_constructs",
    "realtime_comments": "lambdas/realtime_comments",
    "realtime_comments_client": "realtime_comments_client",
}


def packages_of(name: str, folder: str) -> list[str]:
    return [name, *(f"{name}.{sub}" for sub in find_packages(folder))]


setup(
    package_dir={**LAYOUT, "realtime_comments_cdk.functions": "lambdas"},
    packages=[
        *(package for name, folder in LAYOUT.items() for package in packages_of(name, folder)),
        "realtime_comments_cdk.functions",
    ],
    package_data={
        "realtime_comments_cdk": ["*.md", "*/README.md"],
        "realtime_comments_cdk.functions": ["requirements.txt", "handlers/*.py", "realtime_comments/**/*.py"],
    },
    include_package_data=False,
)
