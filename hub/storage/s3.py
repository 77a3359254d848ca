"""S3-compatible object store (boto3) for payload objects and unfinished uploads.

Location: `s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:9000&region=us-east-1`
(`endpoint` omitted = AWS). Credentials come the usual boto3 way
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, instance role) — never
from the URL, so they do not end up in logs or `ps`.

Objects: `PREFIX/objects/ab/abcd…` (sha256). A put is a conditional write
(`If-None-Match: *`): of several hub instances storing the same object at
once, one wins and the others get 412, which means "already there" — objects
are never overwritten. A store that does not implement conditional writes
(501 NotImplemented) falls back to HEAD-then-PUT, which is still safe because
the key is the hash of the content. Each put also carries the sha256 checksum
(`ChecksumSHA256`) so the server itself refuses bytes damaged in transit.

Uploads: S3 objects cannot be appended to, and multipart parts must be ≥ 5 MB
while tus chunks are 256 KB, so each acknowledged chunk is its own object
`PREFIX/uploads/<upload id>/<offset:016d>`. `write_at(offset)` writes the chunk
at its start offset, without listing: a chunk re-sent after a lost
acknowledgement overwrites the object at the same key. `stage_complete` lists
once and concatenates the chunks that tile the upload from byte 0 (following
start = previous end, so a stale unacknowledged chunk is never used) into a
local temporary file, which the hub hashes and hands to the object store; the
chunks stay until `delete`, so a completion cut short can run again. Any
instance can continue any upload. Every request is counted in
hub.storage.stats.STATS by operation.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from urllib.parse import parse_qs, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from sync_protocol.errors import ObjectCorrupt

from .stats import STATS
from .uploads import _UPLOAD_ID, _old_files

log = logging.getLogger("motcua.hub.storage.s3")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"object store URL {url!r} is not like s3://bucket/prefix?endpoint=http://host:9000")
        query = parse_qs(parsed.query)
        prefix = parsed.path.strip("/")
        return cls(bucket=parsed.netloc, prefix=f"{prefix}/" if prefix else "",
                   endpoint=(query.get("endpoint") or [None])[0], region=(query.get("region") or [None])[0])


def make_client(location: S3Location) -> Any:
    """A thread-safe boto3 S3 client for `location` (path-style addressing works with MinIO/moto)."""
    config = Config(max_pool_connections=64, retries={"max_attempts": 5, "mode": "standard"},
                    s3={"addressing_style": "path"}, connect_timeout=10, read_timeout=60)
    client = boto3.session.Session().client("s3", endpoint_url=location.endpoint,
                                            region_name=location.region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                                            config=config)
    client.meta.events.register("before-send.s3", _count_request)
    return client


def _count_request(request: Any = None, **kwargs: Any) -> None:
    STATS.object_request(str(kwargs.get("event_name", "")).rsplit(".", 1)[-1] or "unknown")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound") or _status(exc) == 404


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def check_bucket(client: Any, location: S3Location) -> None:
    try:
        client.head_bucket(Bucket=location.bucket)
    except ClientError as exc:
        raise RuntimeError(f"object store bucket {location.bucket!r} is not reachable or does not exist "
                           f"({_code(exc) or _status(exc)}); create it first") from exc


class S3ObjectStore:
    """ObjectStore on an S3-compatible bucket (see module docstring)."""

    def __init__(self, client: Any, location: S3Location):
        self.client, self.location = client, location
        self.conditional_writes = True

    def _key(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 address: {sha256!r}")
        return f"{self.location.prefix}objects/{sha256[:2]}/{sha256}"

    def has(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self._key(sha256))
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise

    def adopt_file(self, path: Path, sha256: str) -> None:
        """Upload (verified), then drop the local temporary."""
        self.put_file(path, sha256)
        Path(path).unlink(missing_ok=True)

    def put_file(self, path: Path, sha256: str) -> None:
        actual, _ = _sha256_file(path)
        if actual != sha256:
            raise ObjectCorrupt(f"content hashes to {actual}, expected {sha256}")
        checksum = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")
        args = {"Bucket": self.location.bucket, "Key": self._key(sha256), "ChecksumSHA256": checksum}
        if not self.conditional_writes and self.has(sha256):
            return
        try:
            with open(path, "rb") as body:
                self.client.put_object(Body=body, **args, **({"IfNoneMatch": "*"} if self.conditional_writes else {}))
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(exc) == 412:
                return  # another writer stored the same bytes first
            if self.conditional_writes and (_code(exc) == "NotImplemented" or _status(exc) == 501):
                log.warning("s3_conditional_writes_unsupported bucket=%s", self.location.bucket)
                self.conditional_writes = False
                self.put_file(path, sha256)
                return
            raise

    def open(self, sha256: str) -> BinaryIO:
        """A seekable local copy of the object (spooled to disk beyond 8 MB).

        One GET streamed into the spool — not download_fileobj, which adds a HEAD first."""
        try:
            spool = self._spool(sha256, None)
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"object {sha256} is not in the store") from exc
            raise
        spool.seek(0)
        return spool

    def open_verified(self, sha256: str) -> tuple[BinaryIO, int]:
        """One GET, hashed as it is spooled (a commit verifies and decrypts from it: not two GETs)."""
        digest = hashlib.sha256()
        try:
            spool = self._spool(sha256, digest)
        except ClientError as exc:
            if _missing(exc):
                raise ObjectCorrupt(f"object {sha256} is missing") from exc
            raise
        if digest.hexdigest() != sha256:
            spool.close()
            raise ObjectCorrupt(f"object {sha256} is corrupt (hashes to {digest.hexdigest()})")
        size = spool.tell()
        spool.seek(0)
        return spool, size

    def _spool(self, sha256: str, digest: Any) -> BinaryIO:
        """The object in a local spool (disk beyond 8 MB), each block also fed to `digest`."""
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        try:
            body = self.client.get_object(Bucket=self.location.bucket, Key=self._key(sha256))["Body"]
            for block in body.iter_chunks(_BLOCK):
                spool.write(block)
                if digest is not None:
                    digest.update(block)
        except BaseException:
            spool.close()
            raise
        return spool  # type: ignore[return-value]  # positioned at its end

    def verify(self, sha256: str) -> int:
        try:
            body = self.client.get_object(Bucket=self.location.bucket, Key=self._key(sha256))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise ObjectCorrupt(f"object {sha256} is missing") from exc
            raise
        digest, size = hashlib.sha256(), 0
        for block in body.iter_chunks(_BLOCK):
            digest.update(block)
            size += len(block)
        if digest.hexdigest() != sha256:
            raise ObjectCorrupt(f"object {sha256} is corrupt (hashes to {digest.hexdigest()})")
        return size

    def delete(self, sha256: str) -> bool:
        existed = self.has(sha256)
        self.client.delete_object(Bucket=self.location.bucket, Key=self._key(sha256))
        return existed

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.location.bucket)

    def __iter__(self) -> Iterator[str]:
        for key, _ in _list(self.client, self.location.bucket, f"{self.location.prefix}objects/"):
            yield key.rsplit("/", 1)[-1]


def _list(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    for key, size, _ in _list_dated(client, bucket, prefix):
        yield key, size


def _list_dated(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int, float]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], int(item["Size"]), item["LastModified"].timestamp()


class S3UploadStore:
    """UploadStore keeping each acknowledged chunk as its own object (see module docstring)."""

    def __init__(self, client: Any, location: S3Location, staging_dir: Path):
        self.client, self.location = client, location
        self._staged_keys: dict[str, list[str]] = {}  # upload id -> chunk keys of its last staging
        self.staging_dir = Path(staging_dir)
        self.staging_dir.mkdir(parents=True, exist_ok=True)

    def _prefix(self, upload_id: str) -> str:
        if not _UPLOAD_ID.match(upload_id):
            raise ValueError(f"bad upload id {upload_id!r}")
        return f"{self.location.prefix}uploads/{upload_id}/"

    def _chunks(self, upload_id: str) -> list[tuple[int, str, int]]:
        """(start offset, key, size) of the stored chunks, in offset order."""
        found = [(int(key.rsplit("/", 1)[-1]), key, size) for key, size in
                 _list(self.client, self.location.bucket, self._prefix(upload_id))]
        return sorted(found)

    def create(self, upload_id: str) -> None:
        self._prefix(upload_id)  # validates the id; chunks appear with the first write

    def write_at(self, upload_id: str, offset: int, data: bytes) -> None:
        # No LIST here (it was 1 of ~3 per dossier): the database offset only ever moves to the end
        # of a chunk, so every chunk starts where an acknowledged one ended and a chunk re-sent
        # after a crash or a lost answer overwrites the unacknowledged one at the same key.
        # A stale object beyond the offset can only be such an unacknowledged chunk, and
        # stage_complete ignores what does not tile the upload from byte 0.
        if data:
            self.client.put_object(Bucket=self.location.bucket, Key=f"{self._prefix(upload_id)}{offset:016d}",
                                   Body=data,
                                   ChecksumSHA256=base64.b64encode(hashlib.sha256(data).digest()).decode("ascii"))

    def stage_complete(self, upload_id: str, length: int | None = None,
                       tail: tuple[int, bytes] | None = None) -> Path:
        """Concatenate the chunks that tile the upload from byte 0. With `length` known, no LIST:
        each chunk's key is where the previous one ended (one GET per chunk). The `tail` (the last
        chunk) is never stored: no PUT, GET nor delete for it — a one-chunk upload costs no request."""
        handle = tempfile.NamedTemporaryFile(dir=self.staging_dir, prefix=f"{upload_id}-", delete=False)
        keys: list[str] = []
        end = tail[0] if tail is not None else length
        with handle:
            if end is None:
                expected = 0
                for start, key, size in self._chunks(upload_id):
                    if start != expected:
                        break  # a gap: the hash check that follows refuses the upload
                    self._copy_chunk(key, handle)
                    keys.append(key)
                    expected = start + size
            else:
                offset = 0
                while offset < end:
                    key = f"{self._prefix(upload_id)}{offset:016d}"
                    copied = self._copy_chunk(key, handle)
                    if not copied:
                        break  # missing: the hash check that follows refuses the upload
                    keys.append(key)
                    offset += copied
            if tail is not None:
                handle.write(tail[1])
            handle.flush()
            os.fsync(handle.fileno())
        self._staged_keys[upload_id] = keys
        return Path(handle.name)

    def _copy_chunk(self, key: str, handle: Any) -> int:
        """Append one chunk object to `handle`; its size (0 if it does not exist)."""
        try:
            body = self.client.get_object(Bucket=self.location.bucket, Key=key)["Body"]
        except ClientError as exc:
            if _missing(exc):
                return 0
            raise
        size = 0
        for block in body.iter_chunks(_BLOCK):  # not download_fileobj: it seeks to absolute offsets
            handle.write(block)
            size += len(block)
        return size

    def cleanup_staged(self, upload_id: str, path: Path) -> None:
        Path(path).unlink(missing_ok=True)

    def stored_uploads(self) -> dict[str, float]:
        """Upload id -> when its newest chunk was written (for the janitor; one LIST of all uploads)."""
        newest: dict[str, float] = {}
        root = f"{self.location.prefix}uploads/"
        for key, _, modified in _list_dated(self.client, self.location.bucket, root):
            upload_id = key[len(root):].split("/", 1)[0]
            if _UPLOAD_ID.match(upload_id):
                newest[upload_id] = max(modified, newest.get(upload_id, 0.0))
        return newest

    def stale_staging(self, older_than: float) -> list[Path]:
        return _old_files(self.staging_dir, older_than)

    def delete(self, upload_id: str) -> None:
        # Right after a completion the staged keys are known: no LIST. Anything else (a stale
        # chunk) is an orphan for hub.janitor, which lists.
        staged = self._staged_keys.pop(upload_id, None)
        keys = [{"Key": key} for key in staged] if staged is not None else \
            [{"Key": key} for _, key, _ in self._chunks(upload_id)]
        for i in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.location.bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
