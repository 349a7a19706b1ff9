"""Shared Lambda defaults (``ServiceFunction``, ``FunctionDefaults``) and the Docker-free
dependencies layer (``DependenciesLayer``, ``PipLayerBundling``)."""

from .bundling import LayerPlatform, PipLayerBundling, build_layer_cache, requirements_hash
from .service_function import (
    CODE_EXCLUDES,
    POWERTOOLS_LAYER_ARN,
    STREAM_UNRESERVED,
    DependenciesLayer,
    FunctionDefaults,
    ServiceFunction,
    default_code_path,
    invocation_target,
)

__all__ = [
    "CODE_EXCLUDES",
    "POWERTOOLS_LAYER_ARN",
    "STREAM_UNRESERVED",
    "DependenciesLayer",
    "FunctionDefaults",
    "LayerPlatform",
    "PipLayerBundling",
    "ServiceFunction",
    "build_layer_cache",
    "default_code_path",
    "invocation_target",
    "requirements_hash",
]
