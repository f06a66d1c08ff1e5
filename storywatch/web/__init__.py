"""The web app over the store (`storywatch web`, or the daemon with [web] listen).

Pages for reading a story's follow-ups and correcting the machine, an Atom feed per
topic, a JSON API with OpenAPI; docs/web.md describes it. `create_app` builds it.
"""
