"""HubConfig: where the hub keeps its data and the limits it enforces."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HubConfig:
    data_dir: Path
    #: largest single upload (one payload object)
    max_upload_bytes: int = 512 * 1024 * 1024
    #: largest PATCH body the hub buffers to verify its checksum
    max_chunk_bytes: int = 16 * 1024 * 1024
    #: how far a signature's `created` may be from hub time
    signature_window_seconds: int = 300
    #: unfinished uploads are forgotten after this long without a PATCH (tus expiration)
    upload_expiry_seconds: int = 7 * 24 * 3600
    #: default lifetime of an enrolment token
    token_ttl_seconds: int = 24 * 3600
    #: devices per agency code; each gets its own block of daily dossier numbers
    max_devices_per_agency: int = 10
    #: metadata database: None = SQLite in data_dir; "postgresql://user@host:5432/db" for several instances
    database_url: str | None = None
    #: payload store: None = files in data_dir; "s3://bucket/prefix?endpoint=http://host:9000" (credentials
    #: from the usual AWS_* environment variables)
    object_store_url: str | None = None
    #: connections each hub instance may open to PostgreSQL (plus as many again for upload locks);
    #: one per request thread (uvicorn's pool of 40) so no request waits for a connection
    database_pool_size: int = 40
    #: hub.janitor: seconds between sweeps, and how old leftovers must be before they are removed
    janitor_interval_seconds: int = 3600
    janitor_grace_seconds: int = 3600
    #: the hub's keys from files outside the data directory (e.g. a secret every instance mounts);
    #: None = hub_key.pem / hub_x25519.pem in data_dir, created on first start. A key file named
    #: here must exist: a mistyped path must not silently make a new key the agents never pinned.
    key_file: Path | None = None
    encryption_key_file: Path | None = None
    #: the P-256 key couriers' phones encrypt evidence to (hub_p256.pem in data_dir by default)
    evidence_key_file: Path | None = None
    # -- bounds against hostile clients (issue 12); each has a MOTCUA_HUB_<NAME> environment variable
    #: unfinished uploads one device may hold open at once (429 beyond)
    max_open_uploads: int = 64
    #: bytes one device may reserve in unfinished uploads (sum of their Upload-Length; 413 beyond)
    max_reserved_bytes: int = 4 * 1024**3
    #: a request body that sends nothing for this long is dropped (408)
    body_idle_seconds: float = 30.0
    #: requests in progress from one client address at once, per hub process (429 beyond)
    max_requests_per_address: int = 64
    #: enrolment attempts per client address per minute, per hub process (429 beyond)
    enrol_per_minute: int = 20
    #: `Authorization: Bearer <token>` that opens /metrics from any address (None: no token)
    metrics_token: str | None = None
    #: client networks that may read /metrics without the token (comma-separated CIDRs)
    metrics_allow: str = "127.0.0.0/8,::1/128"
    #: request line + headers of one request (the HTTP parser refuses more, 400, before the app runs)
    max_header_bytes: int = 64 * 1024

    #: fields settable from the environment as MOTCUA_HUB_<FIELD NAME IN CAPITALS>
    ENV_LIMITS = ("max_open_uploads", "max_reserved_bytes", "body_idle_seconds", "max_requests_per_address",
                  "enrol_per_minute", "metrics_token", "metrics_allow", "max_header_bytes")

    @classmethod
    def from_env(cls, data_dir: Path, **overrides: object) -> "HubConfig":
        """Config for `data_dir`, with MOTCUA_HUB_DATABASE_URL / MOTCUA_HUB_OBJECT_STORE from the environment
        unless given in `overrides` (a None override means "use the environment")."""
        env: dict[str, object] = {"database_url": os.environ.get("MOTCUA_HUB_DATABASE_URL") or None,
                                  "object_store_url": os.environ.get("MOTCUA_HUB_OBJECT_STORE") or None}
        for name in cls.ENV_LIMITS:
            raw = os.environ.get(f"MOTCUA_HUB_{name.upper()}")
            if raw:
                kind = type(getattr(cls, name))
                try:
                    env[name] = raw if kind in (str, type(None)) else kind(raw)
                except ValueError as exc:
                    raise ValueError(f"MOTCUA_HUB_{name.upper()}={raw!r} is not a {kind.__name__}") from exc
        for name, var in (("key_file", "MOTCUA_HUB_KEY_FILE"), ("encryption_key_file", "MOTCUA_HUB_ENCRYPTION_KEY_FILE"),
                          ("evidence_key_file", "MOTCUA_HUB_EVIDENCE_KEY_FILE")):
            if os.environ.get(var):
                env[name] = Path(os.environ[var])
        for name in ("janitor_interval_seconds", "janitor_grace_seconds"):
            value = os.environ.get(f"MOTCUA_HUB_{name.removesuffix('_seconds').upper()}")
            if value and value.isdigit():
                env[name] = int(value)
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(data_dir=Path(data_dir), **{**env, **given})  # type: ignore[arg-type]

    @property
    def backend(self) -> str:
        """"sqlite+files", "postgresql+s3", … — for logs, metrics and `motcua doctor`."""
        db = "postgresql" if self.database_url else "sqlite"
        return f"{db}+{'s3' if self.object_store_url else 'files'}"

    @property
    def staging_dir(self) -> Path:
        """Local scratch space for assembling uploads kept in an object store."""
        return self.data_dir / "staging"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "hub.db"

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "hub_key.pem"

    @property
    def encryption_key_path(self) -> Path:
        """The hub's X25519 key: agents encrypt sealed dossiers to its public half."""
        return self.encryption_key_file or self.data_dir / "hub_x25519.pem"

    @property
    def evidence_key_path(self) -> Path:
        """The hub's P-256 key: couriers' phones encrypt delivery evidence to its public half."""
        return self.evidence_key_file or self.data_dir / "hub_p256.pem"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.objects_dir, self.uploads_dir):
            path.mkdir(parents=True, exist_ok=True)
