"""Fetch: Scrapy spiders, items, middlewares, pipelines and settings.

Laid out as a Scrapy project (`scrapy list`, `scrapy crawl feed -a source=NAME` work from
the repository root): spiders discover and download, downloader middlewares decide what
is not worth a request, item pipelines extract, normalise, store and classify.
"""
