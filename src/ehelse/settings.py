"""Every setting of ehelse, declared once.

Each setting is one `Setting` row: its name, default, type and help. The value comes from the
environment variable `EHELSE_<NAME>` (upper case), else the default. `ehelse serve --help` and
docs/settings.md list them all; tests/test_settings.py fails when one is undocumented.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

ENV_PREFIX = "EHELSE_"


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str
    cast: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", "sqlite:///var/ehelse.sqlite",
            "Database: sqlite:///path (embedded default) or postgresql://user@host:port/db."),
    Setting("host", "127.0.0.1", "Address `ehelse serve` listens on."),
    Setting("port", 8080, "Port `ehelse serve` listens on.", int),
    Setting("workers", 0, "Server worker processes (`serve --workers`); 0: one per CPU this process may run on, "
            "at most 4 (1 for a memory: database).", int),
    Setting("base_url", "",
            "Public base URL of the server (e.g. https://fhir.example.no); default: from the request."),
    Setting("max_body_bytes", 16 * 1024 * 1024,
            "Largest request body accepted, in bytes; larger bodies get 413.", int),
    Setting("max_json_depth", 64, "Deepest JSON nesting accepted in a request body.", int),
    Setting("default_page_size", 50, "Entries per page when a search or history gives no _count.", int),
    Setting("max_page_size", 1000, "Largest _count honoured for search and history.", int),
    Setting("validate", True, "Validate resources on every write (off only for trusted bulk loads).", _bool),
    Setting("required_profiles", "",
            "Profiles every resource of a type must conform to, e.g. "
            "Patient=http://hl7.no/fhir/ig/StructureDefinition/no-basis-Patient,Practitioner=...; empty: none."),
    Setting("token_issuer", "",
            "Issuer (iss) of the tokens this deployment signs; default: <base>/oauth2 or 'ehelse'."),
    Setting("token_audience", "",
            "Audience (aud) tokens must name, besides the FHIR base URL of the request; default: <base>/fhir or 'ehelse'."),
    Setting("token_lifetime", 3600, "Lifetime in seconds of tokens made by `ehelse token`.", int),
    Setting("key_file", "",
            "PEM file with the token signing key; empty: keys are kept in the database."),
    Setting("db_pool_size", 10, "Largest number of PostgreSQL connections per server process in each of its two pools (the second runs selective searches on generic plans: docs/storage.md).", int),
    Setting("sqlite_readers", 4, "SQLite reads at a time per process from worker threads, each on its own connection; more wait in line (the event loop's reads by id never wait). About twice the cores: more only switch threads (docs/storage.md).", int),
    Setting("log_level", "info", "Log level: debug, info, warning, error."),
    Setting("log_format", "json", "Log format: json (structured, one object a line) or text."),
    Setting("metrics", True, "Serve Prometheus metrics at /metrics.", _bool),
    Setting("shutdown_timeout", 30, "Seconds to let requests in flight finish on shutdown.", int),
    # -- the trust issue: logins, OAuth 2 / SMART, sessions, web hardening (src/ehelse/oauth)
    Setting("login_mode", "builtin",
            "builtin: demo logins in the style of ID-porten and HelseID at /login; external: trust the "
            "OIDC issuers below and serve no built-in login."),
    Setting("idporten_issuer", "", "Issuer URL of ID-porten (login_mode=external), e.g. https://idporten.no."),
    Setting("helseid_issuer", "", "Issuer URL of HelseID (login_mode=external), e.g. https://helseid-sts.nhn.no."),
    Setting("login_client_id", "ehelse",
            "Our client_id at the external issuers: the audience their id_tokens must name."),
    Setting("dynamic_registration", False, "Accept RFC 7591 dynamic client registration at /oauth2/register.", _bool),
    Setting("refresh_token_lifetime", 30 * 24 * 3600, "Seconds a refresh token (offline_access) lives.", int),
    Setting("session_idle_timeout", 30 * 60, "Seconds without a request after which a web session ends.", int),
    Setting("session_absolute_timeout", 12 * 3600, "Seconds after login at which a web session ends in any case.", int),
    Setting("cors_origins", "",
            "Origins allowed to call the API from a browser (comma separated, or *); empty: none."),
    Setting("rate_limit", 20,
            "Login and token requests per minute per client IP and per account (per server process); 0: off.", int),
    # -- analytics (issue 9: SQL on FHIR views, privacy by design; src/ehelse/analytics)
    Setting("spark_master", "local[2]",
            "Spark master URL for `--engine spark`: local[N] (in process) or a cluster, e.g. spark://host:7077."),
    Setting("small_cell_threshold", 3,
            "Aggregate cells with counts below this are suppressed (with secondary suppression) when shown or exported.", int),
    # -- clinician workspace (issue 8: /helsepersonell)
    Setting("smart_app_url", "",
            "Launch URL of the SMART app the clinician workspace offers (EHR launch with ?iss=&launch=); empty: none."),
    # -- bulk data export (issue 9: src/ehelse/bulk)
    Setting("export_dir", "var/export", "Folder where Bulk Data export jobs write their NDJSON files."),
    Setting("export_retention", 24 * 3600,
            "Seconds a finished export's files are kept before the worker deletes them.", int),
    Setting("export_lease", 60,
            "Seconds an export worker's claim on a job lasts without renewal; a dead worker's job is taken over after it.", int),
    Setting("export_worker", True, "Run a Bulk Data export worker thread in each server process.", _bool),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(slots=True)
class Settings:
    """The values in force: environment over defaults, and explicit overrides over both."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is None:
                values[setting.name] = setting.default
            else:
                try:
                    values[setting.name] = setting.cast(raw)
                except ValueError as exc:
                    raise ValueError(f"{setting.env}: {exc}") from None
        for name, value in overrides.items():
            if name not in _BY_NAME:
                raise KeyError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        return cls(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


# The most worker processes `workers = 0` starts. Each PostgreSQL worker may open up to
# 2 x db_pool_size connections (docs/storage.md); 4 x 20 stays under PostgreSQL's default
# max_connections of 100. More workers than that is a choice to make with the database's
# limit in view: say --workers N.
MAX_AUTO_WORKERS = 4


def server_workers(settings: Settings) -> int:
    """The worker processes `ehelse serve` starts: the setting, or for 0 one per CPU.

    One process runs Python on one core at a time (the GIL), so a single worker leaves the
    other cores to the database at best: with 16 concurrent searches on 2 cores one process
    did 1,600-1,800 searches/s and two did twice that (docs/benchmarks.md, sixth session).
    Every worker is a separate process with its own connections; nothing one needs lives only
    in another's memory (DESIGN.md), except in a memory: database, which is per process."""
    if settings.workers > 0:
        return settings.workers
    if str(settings.database_url).startswith("memory:"):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(MAX_AUTO_WORKERS, cpus))


CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def _cgroup_cpu_quota(path: str = CGROUP_CPU_MAX) -> int | None:
    """A container's CPU limit (cgroup v2 `cpu.max`: "<quota> <period>" in microseconds, or
    "max <period>" for none), rounded up to whole CPUs; None where there is no limit or no
    such file. A container limited to 1 CPU on a 32-core host sees all 32 in its affinity."""
    try:
        with open(path, encoding="ascii") as file:
            quota, _, period = file.read().strip().partition(" ")
        if quota == "max":
            return None
        return max(1, -(-int(quota) // int(period or 100000)))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def get_settings(**overrides: Any) -> Settings:
    return Settings.from_env(**overrides)
