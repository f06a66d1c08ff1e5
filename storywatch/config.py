"""The one configuration contract of storywatch: a TOML file validated by pydantic.

Every entry point (CLI, daemon, Scrapy's own `scrapy crawl`) loads the config through
`load_config`, so a mistake is reported the same way everywhere: the file, the field
and the problem, as a `ConfigError` that the CLI turns into exit code 2.
"""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_dir
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

CONFIG_ENV = "STORYWATCH_CONFIG"
DEFAULT_CONFIG_NAME = "storywatch.toml"

# Hand-written because pydantic only parses ISO 8601 durations ("PT30M"), and the config
# promises the short forms people write in crontabs and systemd timers ("30m", "2h").
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Accept "90s", "15m", "2h", "7d", "1w", a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("must be positive")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
            if seconds <= 0:
                raise ValueError("must be positive")
            return timedelta(seconds=seconds)
    raise ValueError(f"{value!r} is not a duration; write e.g. '90s', '15m', '2h' or '7d'")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _default_database_url() -> str:
    return f"sqlite:///{Path(user_data_dir('storywatch')) / 'storywatch.db'}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageConfig(_Section):
    url: str = Field(default_factory=_default_database_url)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "postgresql")):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return url


class CrawlConfig(_Section):
    user_agent: str = "storywatch/0.1 (+https://github.com/storywatch/storywatch)"
    allow_private_networks: bool = False
    obey_robots_txt: bool = True
    concurrency_per_domain: int = Field(default=2, ge=1, le=32)
    # The least time between two requests to one host (0: none beyond autothrottle's);
    # in cluster mode with a Redis, across every worker, not per worker.
    download_delay: Duration = timedelta(0)
    download_timeout: Duration = timedelta(seconds=30)
    max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=10_000)
    timeout: Duration = timedelta(minutes=15)
    autothrottle: bool = True
    # Extraction worker processes; unset = one per CPU core (at most 4), 0 = inline.
    extract_workers: int | None = Field(default=None, ge=0, le=32)
    # Exact "host:port" pairs exempt from the private-network guard (a test or demo server
    # on loopback); everything else on a private address stays refused.
    allowed_hosts: list[str] = []
    # Retries of 5xx answers and timeouts, spaced by retry_backoff * 2**n.
    retry_times: int = Field(default=2, ge=0, le=10)
    retry_backoff: Duration = timedelta(seconds=1)
    # A 429/503 asking to come back later is waited for up to this long, else given up.
    max_retry_after: Duration = timedelta(seconds=60)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_port(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}", host):
                raise ValueError(f"{host!r} is not HOST:PORT (e.g. \"127.0.0.1:8080\")")
        return [host.lower() for host in hosts]


class TopicConfig(_Section):
    name: str = Field(min_length=1)
    seeds: list[str] = Field(min_length=1)
    keywords: list[str] = []
    description: str | None = None
    # When the seed event happened (UTC day). Taken from the seeds' own publication dates
    # when they are pages; give it for text seeds: whether an item came days or months
    # after the event is part of telling a rewrite from a follow-up.
    event_date: date | None = None


_URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)


class SourceConfig(_Section):
    name: str = Field(min_length=1)
    kind: Literal["feed", "sitemap", "site"] = "feed"
    url: str
    every: Duration | None = None
    cron: str | None = None
    topics: list[str] | None = None  # None: every topic
    max_age: Duration = timedelta(days=7)
    max_pages: int = Field(default=5, ge=1)
    depth: int = Field(default=2, ge=0)
    allow: list[str] = []
    deny: list[str] = []

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not _URL.match(url):
            raise ValueError("must be an absolute http(s) URL")
        return url

    @field_validator("allow", "deny")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return patterns

    @field_validator("cron")
    @classmethod
    def _crontab(cls, cron: str | None) -> str | None:
        if cron is None:
            return None
        # APScheduler parses it at run time; parsing here too reports a typo at load time.
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(cron, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f"{cron!r} is not a crontab expression (5 fields: minute hour day month "
                f"weekday, e.g. '0 */2 * * *'): {exc}"
            ) from None
        return cron

    @model_validator(mode="after")
    def _one_schedule(self) -> SourceConfig:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        return self


# Fields of the hand-tuned classifier (before the learned decision of 2026-11-30). A
# config that still sets them loads, with a warning, instead of failing: they no longer
# act, the learned weights decide (docs/classification.md).
RETIRED_CLASSIFY_FIELDS = (
    "relevance_min", "novelty_min", "new_anchors_min", "new_anchors_min_with_novelty",
    "new_anchors_min_cross_lingual", "coverage_min", "semantic", "semantic_cover_min",
    "background_window",
)


class ClassifyConfig(_Section):
    """How the learned decision is applied; docs/classification.md has the figures."""

    # Weights of the decision (JSON written by benchmarks/train_decision.py); default:
    # the ones shipped in the package, trained on the real cross-story corpus.
    model: Path | None = None
    # Shifts, in log-odds, of the two stages: > 0 makes the topic wider (more items on
    # topic) or follow-ups easier; < 0 stricter. 0 is what the cross-story figures measure.
    topic_bias: float = Field(default=0.0, ge=-10, le=10)
    novelty_bias: float = Field(default=0.0, ge=-10, le=10)
    cluster_anchors_min: int = Field(default=2, ge=1)
    cluster_overlap_min: float = Field(default=0.5, gt=0, le=1)
    cluster_window: Duration = timedelta(days=21)
    retired: list[str] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _retire_old_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in RETIRED_CLASSIFY_FIELDS):
            data = dict(data)
            data["retired"] = [k for k in RETIRED_CLASSIFY_FIELDS if k in data]
            for key in data["retired"]:
                del data[key]
        return data

    @model_validator(mode="after")
    def _warn_retired(self) -> ClassifyConfig:
        if self.retired:
            warnings.warn(
                f"[classify] {', '.join(self.retired)} no longer act(s): the decision is "
                "learned (see docs/classification.md); use topic_bias / novelty_bias",
                RetiredSettingWarning, stacklevel=2)
        return self


class RetiredSettingWarning(UserWarning):
    """A config field that no longer has an effect."""


class SmtpConfig(_Section):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    sender: str
    timeout: Duration = timedelta(seconds=30)
    # Attempts after the first for errors that prove nothing was delivered (refused
    # connection, 4xx reply); 3 rides out a server restart without holding a run for long.
    retries: int = Field(default=3, ge=0, le=10)
    retry_backoff: Duration = timedelta(seconds=2)

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, sender: str) -> str:
        from email.utils import parseaddr

        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(parseaddr(sender)[1], check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"{sender!r} is not an email address: {exc}") from None
        if "\r" in sender or "\n" in sender:
            raise ValueError("must be on one line")
        if "=?" in sender:
            # The stdlib decodes an RFC 2047 encoded word in a From: header (a CR/LF in
            # it then breaks every message); write the name as plain text instead.
            raise ValueError("must not contain an RFC 2047 encoded word (=?...?=); write "
                             "the name as plain text, non-ASCII letters included")
        return sender


class DigestConfig(_Section):
    # Public base URL under which `storywatch digest serve-unsubscribe` is reachable (behind
    # HTTPS); unsubscribe links are {public_url}/unsubscribe?token=... Needed for sending.
    public_url: str | None = None
    # A digest longer than this is hard to read; the older rest waits for the next digest.
    max_items: int = Field(default=50, ge=1, le=500)
    # A new subscriber's first digest reaches back this far instead of starting empty.
    first_digest_covers: Duration = timedelta(days=7)
    # About two sentences of news prose: enough to tell what is new, short enough to skim.
    lead_chars: int = Field(default=320, ge=80, le=2000)

    @field_validator("public_url")
    @classmethod
    def _public_http_url(cls, url: str | None) -> str | None:
        if url is not None and not _URL.match(url):
            raise ValueError("must be an absolute http(s) URL, e.g. https://news.example.org")
        return url.rstrip("/") if url else url


class DaemonConfig(_Section):
    """`storywatch run`: how sources are scheduled and how crawl children are supervised."""

    # Sources with neither `every` nor `cron`: hourly is frequent enough for news and polite.
    default_every: Duration = timedelta(hours=1)
    # Each run is moved by up to this much (at most a tenth of the source's interval), so
    # sources configured alike do not all hit the network in the same second.
    jitter: Duration = timedelta(seconds=30)
    # A run that could not start on time (daemon busy or stopped) still starts if it is no
    # later than this; older ones are skipped and the next regular one is waited for.
    misfire_grace: Duration = timedelta(minutes=10)
    # After SIGTERM, running crawls get this long to finish before they are terminated.
    grace_period: Duration = timedelta(seconds=30)
    # A failing source waits interval x 2^failures before its next try, at most this long.
    backoff_cap: Duration = timedelta(hours=6)
    # `storywatch status` exits non-zero when a source has failed this many runs in a row.
    failure_threshold: int = Field(default=3, ge=1)
    # Crawl child processes at once; each is a Scrapy process of roughly 100 MB.
    max_children: int = Field(default=4, ge=1, le=64)
    # Sources due within this window share one child (one interpreter start instead of
    # many); "0s" gives every source its own child.
    batch_window: timedelta = timedelta(seconds=1)
    batch_max: int = Field(default=10, ge=1, le=200)
    # Crawl children (of the daemon and of cluster workers) forked from a process that
    # has imported the crawl once (scheduler/zygote.py): ~2 s less CPU per child start,
    # for ~200 MB more resident memory at rest. false: a new interpreter per child.
    fork_children: bool = True
    # The daemon's lease on the database is renewed this often; `status` and a second
    # daemon consider it dead after three missed renewals.
    heartbeat: Duration = timedelta(seconds=10)
    timezone: str = "UTC"  # for `cron` schedules

    @field_validator("batch_window", mode="before")
    @classmethod
    def _window(cls, value: Any) -> Any:
        if value in (0, "0", "0s"):
            return timedelta(0)
        return parse_duration(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{name!r} is not a time zone name (e.g. 'UTC', 'Europe/Paris')"
            ) from None
        return name


# -- [cluster] (issue 14): `storywatch run` dispatches crawls to `storywatch worker`s ----------
class ClusterConfig(_Section):
    """Crawls run by workers on other processes or machines, through a message broker.

    Without this section nothing changes: the daemon forks its own crawl children.
    """

    # amqp://USER:PASS@HOST:5672/ (RabbitMQ: a dead worker's job is back in the queue at
    # once) or redis://HOST:6379/0; docs/cluster.md says why RabbitMQ is the default.
    broker_url: str
    # Redis for the per-host politeness slots shared by every worker; unset: the broker's
    # URL when it is a Redis one, else no cluster-wide slots (per-worker politeness only).
    redis_url: str | None = None
    queue: str = Field(default="storywatch-crawl", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    # Worker rows and source leases are renewed this often; dead after three missed.
    heartbeat: Duration = timedelta(seconds=5)
    # How long a dispatched crawl may wait in the queue for a free worker before its run is
    # recorded as failed (the crawl's own crawl.timeout comes on top).
    queue_timeout: Duration = timedelta(minutes=15)
    # Jobs one worker runs at once (each is one crawl child process).
    jobs_per_worker: int = Field(default=1, ge=1, le=16)

    @field_validator("broker_url", "redis_url")
    @classmethod
    def _broker_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("amqp://", "amqps://", "redis://",
                                                   "rediss://")):
            raise ValueError("use amqp://USER:PASSWORD@HOST:5672/ or redis://HOST:6379/0")
        return url

    def slots_url(self) -> str | None:
        """The Redis holding the cluster-wide per-host slots, if any."""
        if self.redis_url is not None:
            return self.redis_url
        return self.broker_url if self.broker_url.startswith("redis") else None


class WebConfig(_Section):
    """`storywatch web` and the daemon's web app (docs/web.md). No secret lives here: the
    password comes only from $STORYWATCH_WEB_PASSWORD."""

    # HOST:PORT. Set, the daemon serves the web app too; `storywatch web` defaults to
    # 127.0.0.1:8080. Loopback unless told: put a reverse proxy with HTTPS in front.
    listen: str | None = None
    # "login": every page needs the password; "public": reading needs none (writes do).
    read: Literal["login", "public"] = "login"
    # Entries per page of the follow-ups list and of the Atom feed.
    page_size: int = Field(default=50, ge=5, le=500)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, listen: str | None) -> str | None:
        if listen is not None and not re.fullmatch(
                r"(\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}", listen):
            raise ValueError(f"{listen!r} is not HOST:PORT (e.g. \"127.0.0.1:8080\")")
        return listen


class Config(_Section):
    storage: StorageConfig = StorageConfig()
    crawl: CrawlConfig = CrawlConfig()
    daemon: DaemonConfig = DaemonConfig()
    classify: ClassifyConfig = ClassifyConfig()
    topics: list[TopicConfig] = []
    sources: list[SourceConfig] = []
    smtp: SmtpConfig | None = None
    digest: DigestConfig = DigestConfig()
    cluster: ClusterConfig | None = None  # issue 14: see docs/cluster.md
    web: WebConfig = WebConfig()
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        for kind, names in (
            ("topics", [t.name for t in self.topics]),
            ("sources", [s.name for s in self.sources]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"{kind}: the name {name!r} is used twice")
                seen.add(name)
        topic_names = {t.name for t in self.topics}
        for source in self.sources:
            for topic in source.topics or []:
                if topic not in topic_names:
                    raise ValueError(f"source {source.name!r} names unknown topic {topic!r}")
        return self

    def topic(self, name: str) -> TopicConfig:
        for topic in self.topics:
            if topic.name == name:
                return topic
        known = ", ".join(t.name for t in self.topics) or "none"
        raise UnknownName(f"no topic named {name!r} (configured: {known})")

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise UnknownName(f"no source named {name!r} (configured: {known})")


class ConfigError(Exception):
    """A config that cannot be used; the message names the file, the field and the problem."""


class UnknownName(ConfigError):
    """A topic or source named on the command line that the config does not have."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _resolve_relative(config: Config, base: Path) -> Config:
    """Seed files and SQLite paths are relative to the config file, not to the cwd."""
    for topic in config.topics:
        topic.seeds = [
            seed if _URL.match(seed) or Path(seed).is_absolute() else str(base / seed)
            for seed in topic.seeds
        ]
    if config.classify.model is not None and not config.classify.model.is_absolute():
        config.classify.model = base / config.classify.model
    url = config.storage.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            config.storage.url = f"sqlite:///{(base / relative).resolve()}"
    return config


def check_seed_files(config: Config) -> None:
    """Raise ConfigError for seed files that are missing or unreadable.

    Separate from load_config because only the commands that classify need the seeds;
    `storywatch items` must work while a seed file is being edited.
    """
    problems = []
    for t, topic in enumerate(config.topics):
        for s, seed in enumerate(topic.seeds):
            if _URL.match(seed):
                continue
            try:
                with open(seed, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                problems.append(f"{config.path or 'config'}: topics[{t}].seeds[{s}]: cannot "
                                f"read the seed file {seed}: {exc.strerror or exc}")
    if problems:
        raise ConfigError("\n".join(problems))


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """--config, then $STORYWATCH_CONFIG, then ./storywatch.toml; None means built-in defaults."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.exists() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config; raise ConfigError naming file, field and problem."""
    config_path = find_config_path(path)
    if config_path is None:
        return Config()
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read the file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling; see examples/storywatch.toml)"
            problems.append(f"{config_path}: {_field_path(error['loc'])}: {message}")
        raise ConfigError("\n".join(problems)) from None
    config.path = config_path.resolve()
    return _resolve_relative(config, config_path.resolve().parent)
