"""Configuration: the one Settings object and the names of every Redis key and channel."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
