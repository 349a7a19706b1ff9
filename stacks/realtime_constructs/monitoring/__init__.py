from .monitoring import Monitoring, MonitoringThresholds

__all__ = ["Monitoring", "MonitoringThresholds"]
