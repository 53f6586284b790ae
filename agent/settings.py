"""One place for every knob, read from the environment (prefix ``TRIAGE_``) and ``.env``.

Each field is documented once here; ``.env.example`` lists them with their defaults.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent.errors import InputError

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
HELPDESK_CLOSED_STATUSES = ("resolved", "rejected", "deleted")
"""RT's inactive statuses (its default lifecycle): a ticket in one of them is closed."""


def _status_list(value: Any) -> Any:
    """The environment's text as a list: a JSON list, or names separated by commas."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"should be a JSON list or names separated by commas: {exc}") from None
    return value.split(",")


def _statuses(values: list[str]) -> list[str]:
    """Statuses as RT compares them (any case); none empty, resolved among them."""
    cleaned = [value.strip().lower() for value in values]
    if not cleaned or not all(cleaned):
        raise ValueError("should name at least one status, none of them empty")
    if "resolved" not in cleaned:
        # resolved is always learned as a resolution: left out, a resolved ticket would count as
        # open in the helpdesk and its reopening would go unseen
        raise ValueError(
            "should include resolved (the whole list is given: to add cancelled to RT's own, "
            "resolved,rejected,deleted,cancelled)"
        )
    return cleaned


Statuses = Annotated[list[str], NoDecode, BeforeValidator(_status_list), AfterValidator(_statuses)]
"""Status names: a list, or (from the environment) a JSON list or names separated by commas."""


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "triage"


class Settings(BaseSettings):
    """Runtime configuration of the triage agent."""

    model_config = SettingsConfigDict(
        env_prefix="TRIAGE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="All state lives here: database, knowledge base, checkpoints, models.",
    )
    policy_path: Path = Field(
        default=EXAMPLES_DIR / "policy.yaml",
        description="The routing policy YAML a support lead edits.",
    )

    # Knowledge base
    embedding_model: Literal["minilm-int8", "e5-small-multilingual"] = Field(
        default="minilm-int8", description="Local embedding model (never downloaded at run time)."
    )
    chroma_mode: Literal["embedded", "http"] = Field(
        default="embedded", description="Chroma on disk under data_dir, or a Chroma server."
    )
    chroma_host: str = Field(default="127.0.0.1", description="Chroma server host (http mode).")
    chroma_port: int = Field(default=8000, description="Chroma server port (http mode).")
    collection: str = Field(default="cases", description="Chroma collection of past cases.")
    neighbours: int = Field(
        default=10, ge=1, le=100, description="Precedents retrieved per ticket."
    )

    # LLM (optional): any OpenAI-compatible endpoint
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key; a local endpoint needs none. No URL and no key: no LLM."
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the endpoint.")
    llm_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="Seconds one LLM call may take, building its prompt and all its attempts "
        "together; a retry has only the time left.",
    )
    llm_max_retries: int = Field(
        default=1,
        ge=0,
        le=5,
        description="Retries of a transient failure (no connection, HTTP 408, 409, 429, 5xx), "
        "each only when its wait ends within TRIAGE_LLM_TIMEOUT_S.",
    )
    llm_max_prompt_tokens: int = Field(
        default=1800,
        ge=256,
        description=(
            "Prompt budget: the messages and the answer's JSON schema sent with them; "
            "precedents, then the body, are trimmed to fit. Too small for the policy's "
            "instructions, teams and schema with a ticket: start or the policy change fails, "
            "naming the least."
        ),
    )
    llm_usd_per_1k_prompt: float = Field(default=0.00015, ge=0, description="Cost estimate.")
    llm_usd_per_1k_completion: float = Field(default=0.0006, ge=0, description="Cost estimate.")
    llm_when: Literal["unsure", "always", "never"] = Field(
        default="unsure",
        description="Call the LLM only when cheaper steps are unsure, on every ticket, or never.",
    )

    # Graph runs
    checkpoint_durability: Literal["auto", "sync", "async", "exit"] = Field(
        default="auto",
        description="When a run's checkpoints reach SQLite: before each next step (sync: a "
        "crashed run resumes at its last step), in the background (async), or when the run "
        "ends or waits for review (exit: a crashed run starts again from the ticket). auto: "
        "sync where an LLM is configured, whose answers are worth keeping; exit otherwise, "
        "where every step is deterministic and a re-run costs milliseconds.",
    )

    # Service
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file under data_dir."
    )
    host: str = Field(default="127.0.0.1", description="Bind address of `triage serve`.")
    port: int = Field(default=8080, description="Port of `triage serve`.")
    max_body_bytes: int = Field(default=1_000_000, description="Request body limit (413 past it).")
    email_max_body_bytes: int = Field(
        default=10_000_000,
        gt=0,
        description="Body limit of POST /v1/intake/email: a raw mail with its attachments (413 "
        "past it). The ticket keeps attachments as metadata only.",
    )
    cors_origins: list[str] = Field(default_factory=list, description="CORS allow-list; closed.")
    log_level: str = Field(default="INFO", description="Logging level (logs go to stderr).")
    sla_check_interval_s: float = Field(default=60.0, gt=0, description="SLA watch period.")
    refit_check_s: float = Field(
        default=300.0,
        ge=0,
        description="How often the service checks whether enough new cases arrived to refit "
        "the learned router in the background (0: only on demand, POST /v1/kb/refit).",
    )
    sla_warn_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="At risk when this share of SLA time is left."
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="On-call webhook timeout.")
    replay_wait_s: float = Field(
        default=30.0, ge=0, description="How long a replay waits for the first call's decision."
    )
    adopt_after_s: float = Field(
        default=120.0,
        gt=0,
        description="An unfinished ticket outside the intake unwritten this long was cut off: "
        "the intake adopts it. A run in progress writes its ticket every quarter of this.",
    )
    policy_check_s: float = Field(
        default=5.0,
        ge=0,
        description="How often a process looks for what another process on the database changed: "
        "a policy version activated, cases learned, a router refitted (0: before every use).",
    )

    # Intake (api/intake)
    intake_queue: Literal["embedded", "rabbitmq"] = Field(
        default="embedded",
        description="Intake queue: a table in the service database, or RabbitMQ.",
    )
    broker_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        description="RabbitMQ URL (intake_queue=rabbitmq).",
    )
    broker_queue: str = Field(default="triage.intake", description="RabbitMQ queue name.")
    intake_queue_size: int = Field(
        default=10_000, ge=1, description="Intake queue bound; 429 past it."
    )
    intake_urgent_reserve: float = Field(
        default=0.1, ge=0, lt=1, description="Share of the bound only urgent tickets may use."
    )
    intake_urgent_rank: int = Field(
        default=1, ge=0, description="Pre-priority ranks up to this (0=P1) count as urgent."
    )
    intake_workers: int = Field(
        default=1, ge=0, le=16, description="Intake worker threads in the API process."
    )
    intake_max_attempts: int = Field(
        default=5, ge=1, le=50, description="Triage attempts before dead-lettering."
    )
    intake_backoff_base_s: float = Field(default=1.0, gt=0, description="First retry delay.")
    intake_backoff_cap_s: float = Field(default=300.0, gt=0, description="Longest retry delay.")
    intake_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="A claimed ticket whose worker is gone returns to the queue after this; "
        "a run in progress extends it every quarter of this.",
    )
    intake_max_run_s: float = Field(
        default=600.0,
        gt=0,
        description="A triage run longer than this is given up: its ticket is retried "
        "(dead-lettered after the attempts) and another worker takes the hung one's place.",
    )
    intake_profiles_path: Path | None = Field(
        default=None, description="YAML validation profiles per channel and tier."
    )
    intake_failing_after: int = Field(
        default=5, ge=1, description="Consecutive failures after which a source is failing."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC secret of POST /v1/intake/helpdesk; unset = closed."
    )
    webhook_tolerance_s: float = Field(
        default=300.0, gt=0, description="Allowed clock skew of webhook signatures."
    )

    # Helpdesk connector (api/helpdesk): Request Tracker 5 over REST2
    helpdesk_kind: Literal["rt"] = Field(default="rt", description="Helpdesk adapter.")
    helpdesk_url: str | None = Field(
        default=None, description="Helpdesk base URL, e.g. http://127.0.0.1:8089; unset = off."
    )
    helpdesk_token: SecretStr | None = Field(
        default=None, description="Helpdesk API token (RT auth token)."
    )
    helpdesk_accounts_file: Path | None = Field(
        default=None, description="YAML account context where the helpdesk has none."
    )
    helpdesk_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per helpdesk request.")
    helpdesk_retry_base_s: float = Field(
        default=0.5, gt=0, description="First retry delay of outbox delivery."
    )
    helpdesk_retry_cap_s: float = Field(
        default=30.0, gt=0, description="Longest retry delay (retries never stop)."
    )
    helpdesk_poll_s: float = Field(
        default=2.0, gt=0, description="Outbox and back-flow poll when idle."
    )
    helpdesk_catchup_s: float = Field(
        default=30.0,
        gt=0,
        description="How often RT is asked for the transactions its webhook did not deliver.",
    )
    helpdesk_history_limit: int = Field(
        default=10, ge=0, le=100, description="Earlier tickets of the requester attached."
    )
    helpdesk_bot_user: str = Field(
        default="triage", description="Helpdesk user of the token (its changes are ours)."
    )
    helpdesk_closed_statuses: Statuses = Field(
        default_factory=lambda: list(HELPDESK_CLOSED_STATUSES),
        description="Helpdesk statuses that close a ticket (comma-separated or a JSON list): "
        "RT's inactive ones. The whole list, resolved included: to add a custom lifecycle's "
        "cancelled, resolved,rejected,deleted,cancelled. resolved is learned as a resolution, "
        "the others close the ticket with nothing learned; leaving one reopens it.",
    )

    @property
    def kb_dir(self) -> Path:
        return self.data_dir / "kb"

    @property
    def model_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def checkpoint_path(self) -> Path:
        return self.data_dir / "checkpoints.sqlite"

    @property
    def embedding_cache_path(self) -> Path:
        return self.data_dir / "embedding-cache.sqlite"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'triage.sqlite'}"

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url or self.llm_api_key) and self.llm_when != "never"

    def ensure_dirs(self) -> None:
        """Create the data directory tree, readable by its owner only (tickets, key hashes and
        the knowledge base live there); one that exists keeps its mode. InputError when it
        cannot be created."""
        for path in (self.data_dir, self.kb_dir, self.model_dir):
            try:
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission, a read-only disk
                raise InputError(
                    f"cannot create the data directory {path}: {exc.strerror or exc}; "
                    "set TRIAGE_DATA_DIR to a writable directory"
                ) from exc


def read_settings(**given: Any) -> Settings:
    """Settings from the environment and ``.env`` (``given`` wins); InputError naming the
    variable of the first value that does not validate."""
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        where = f"TRIAGE_{name.upper()}" if name else "settings"
        raise InputError(f"{where}: {first['msg']} (got {first['input']!r})") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings."""
    return read_settings()
