"""The gateway tunes the cyclic collector as every service does: `servicekit.collector`."""

from servicekit.collector import tune_collector

__all__ = ["tune_collector"]
