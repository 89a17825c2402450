"""S3-compatible object stores: the address of a data root on one (`s3://bucket/prefix`), the
pyarrow file system that reads and writes it, and the one write pyarrow cannot make: a
conditional create (PUT with `If-None-Match: *`), which succeeds for exactly one of any
number of writers racing for a key.

Endpoint and credentials come from the standard variables: AWS_ENDPOINT_URL (an S3-compatible
server; unset: AWS), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION (default
us-east-1). The secret is never part of a message, a repr or a log line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

S3_SCHEME = "s3"
ENDPOINT_ENV = "AWS_ENDPOINT_URL"


class ObjectStoreError(Exception):
    """A request the object store refused or could not answer; one sentence, no secret."""


@dataclass(frozen=True)
class S3Location:
    """`s3://bucket/prefix` split into its bucket and key prefix (no slashes at the ends)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parts = urlsplit(uri)
        if "@" in parts.netloc:  # s3://KEY:SECRET@bucket/...: never echo it
            raise ValueError(
                "an s3:// address with credentials in it; give the keys in AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY and the address as s3://bucket/prefix"
            )
        if parts.scheme != S3_SCHEME or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"{uri!r} is not an s3://bucket/prefix address")
        return cls(parts.netloc, parts.path.strip("/"))

    def key(self, relative: str) -> str:
        """The object key of a path relative to the data root."""
        relative = relative.strip("/")
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def path(self, relative: str = "") -> str:
        """`bucket/key`, as pyarrow's S3 file system names objects."""
        key = self.key(relative) if relative else self.prefix
        return f"{self.bucket}/{key}" if key else self.bucket

    def __str__(self) -> str:
        return f"s3://{self.path()}"


@dataclass(frozen=True)
class S3Credentials:
    endpoint: str | None
    region: str
    access_key: str | None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)  # temporary credentials

    @classmethod
    def from_env(cls) -> S3Credentials:
        return cls(
            endpoint=_endpoint(os.environ.get(ENDPOINT_ENV, "")),
            region=os.environ.get("AWS_REGION") or "us-east-1",
            access_key=os.environ.get("AWS_ACCESS_KEY_ID") or None,
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        )

    @property
    def base_url(self) -> str:
        return (self.endpoint or f"https://s3.{self.region}.amazonaws.com").rstrip("/")

    def filesystem(self) -> Any:
        """A pyarrow S3FileSystem for these credentials (path-style addressing)."""
        import pyarrow.fs as pafs

        if (self.access_key is None) != (self.secret_key is None):
            raise ObjectStoreError(
                "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; "
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        endpoint = urlsplit(self.base_url)
        return pafs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            session_token=self.session_token,
            region=self.region,
            endpoint_override=endpoint.netloc if self.endpoint else None,
            scheme="http" if endpoint.scheme == "http" else "https",
            force_virtual_addressing=False,
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
        )


def _endpoint(text: str) -> str | None:
    """AWS_ENDPOINT_URL checked (None when unset): an http:// or https:// address of a host, with
    a port from 1 to 65535 or none. Raises ObjectStoreError naming the variable and the fix."""
    if not text:
        return None
    try:
        parts = urlsplit(text)
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.port != 0  # (.port raises ValueError above 65535)
            and "@" not in parts.netloc
            and parts.path in ("", "/")
            and not parts.query
            and not parts.fragment
        )
    except ValueError:
        valid = False
    if not valid:
        shown = ENDPOINT_ENV if "@" in text else f"{ENDPOINT_ENV}={text}"  # never a secret
        raise ObjectStoreError(
            f"{shown}: not an address of an S3-compatible server; write it like "
            "http://localhost:9000 (http:// or https://, a host, a port from 1 to 65535 or "
            f"none, no path), or unset {ENDPOINT_ENV} to use AWS."
        )
    return text


def put_if_absent(
    credentials: S3Credentials, bucket: str, key: str, body: bytes, timeout: float = 30
) -> bool:
    """Create the object `key` with `body` unless it exists: True when this call created it,
    False when it was there already (HTTP 412) or another create of it raced this one (409)."""
    import requests

    if not (credentials.access_key and credentials.secret_key):
        raise ObjectStoreError(
            f"s3://{bucket}/{key}: a commit needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and AWS_SESSION_TOKEN with temporary credentials); set them for every worker"
        )
    url = f"{credentials.base_url}/{quote(bucket, safe='')}/{quote(key, safe='/~')}"
    extra = {"If-None-Match": "*"}
    if credentials.session_token:
        extra["X-Amz-Security-Token"] = credentials.session_token
    headers = _signed(credentials, "PUT", url, body, extra)
    try:
        response = requests.put(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise ObjectStoreError(
            f"s3://{bucket}/{key}: the object store did not answer ({type(exc).__name__})"
        ) from None
    if response.status_code in (200, 201):
        return True
    if response.status_code in (409, 412):  # 409: a create of the key raced this one
        return False
    raise ObjectStoreError(
        f"s3://{bucket}/{key}: a conditional create was refused with HTTP "
        f"{response.status_code} ({_s3_error_code(response.text)})"
    )


def _s3_error_code(text: str) -> str:
    start, end = text.find("<Code>"), text.find("</Code>")
    return text[start + 6 : end] if 0 <= start < end else "no error code"


def _signed(
    credentials: S3Credentials, method: str, url: str, body: bytes, extra: dict[str, str]
) -> dict[str, str]:
    """The request's headers with an AWS Signature Version 4 (no query string)."""
    parts = urlsplit(url)
    now = dt.datetime.now(dt.UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {
        "host": parts.netloc,
        "x-amz-content-sha256": payload,
        "x-amz-date": stamp,
        **{k.lower(): v for k, v in extra.items()},
    }
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            "",
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            ";".join(names),
            payload,
        ]
    )
    scope = f"{day}/{credentials.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_key or ''}".encode()
    for part in (day, credentials.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    del headers["host"]  # requests sets it from the URL
    return headers
