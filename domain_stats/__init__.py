"""domain-stats: how old is a domain, and has anyone here (or in the community) seen it before."""

__version__ = "0.1.0"
__all__ = ["__version__"]
