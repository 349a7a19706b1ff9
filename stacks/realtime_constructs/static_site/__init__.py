from .static_site import CSP_MAX_LENGTH, RUNTIME_CONFIG_KEY, StaticSite, StaticSiteOptions

__all__ = ["CSP_MAX_LENGTH", "RUNTIME_CONFIG_KEY", "StaticSite", "StaticSiteOptions"]
