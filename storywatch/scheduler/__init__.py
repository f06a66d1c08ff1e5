"""The daemon: `storywatch run` schedules every source and supervises crawl child processes.

Modules: jobs (APScheduler jobs built from the config), children (crawl child processes,
batching, timeouts), runs (the crawl_runs table), lock (one daemon per database), daemon
(main loop and signals), health (`storywatch status`), tasks (other periodic jobs).

Nothing here imports Scrapy or Twisted: every crawl runs in a child process.
"""
