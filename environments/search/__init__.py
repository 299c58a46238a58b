"""The search-agent family: questions over a searchable corpus (see `family`)."""

from environments.search.family import SearchFamily

__all__ = ["SearchFamily"]
