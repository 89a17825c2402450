"""Discover: a source's feeds, sitemaps and homepage to a list of item URLs with hints,
through the fetch package's client (`discoverer.Discoverer`)."""
