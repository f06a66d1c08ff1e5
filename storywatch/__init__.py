"""storywatch: follow a news story across feeds, sitemaps and sites.

The package layout is the data flow: discovery → spiders (fetch) → extraction →
normalise → classify → storage → notify, with the scheduler driving it and the CLI on top.
"""

__version__ = "0.1.0"
