"""Discover: turn listing documents (feeds, sitemaps, site pages) into article links.

Parsers here are pure functions of bytes, so they are tested without a crawl and shared by
every spider.
"""
