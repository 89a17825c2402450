"""The object-store primitives a data root on S3 is built on, against a real S3-compatible
server (SeaweedFS) the tests start: addresses, the pyarrow file system from the standard AWS
variables, and the conditional create that exactly one of racing writers wins."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.harness import S3_SECRET_KEY, S3Server
from transforms.objectstore import (
    ObjectStoreError,
    S3Credentials,
    S3Location,
    put_if_absent,
)


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server.bucket


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def test_an_s3_address_splits_into_bucket_and_key_prefix() -> None:
    location = S3Location.parse("s3://lake/news/flow/")
    assert (location.bucket, location.prefix) == ("lake", "news/flow")
    assert location.key("articles/x.parquet") == "news/flow/articles/x.parquet"
    assert location.path("articles") == "lake/news/flow/articles"
    assert str(S3Location.parse("s3://lake")) == "s3://lake"
    for bad in ("lake/x", "s3:///x", "https://lake/x", "s3://lake/x?y=1"):
        with pytest.raises(ValueError, match="not an s3://bucket/prefix"):
            S3Location.parse(bad)


def test_the_credentials_come_from_the_standard_variables_and_hide_the_secret(
    bucket: str, prefix: str
) -> None:
    credentials = S3Credentials.from_env()
    assert credentials.secret_key == S3_SECRET_KEY
    assert S3_SECRET_KEY not in repr(credentials)
    fs = credentials.filesystem()
    table = pa.table({"n": [1, 2, 3]})
    pq.write_table(table, f"{bucket}/{prefix}/published_date=2026-12-01/a.parquet", filesystem=fs)
    assert pq.read_table(f"{bucket}/{prefix}", filesystem=fs)["n"].to_pylist() == [1, 2, 3]


def test_a_conditional_create_is_won_by_exactly_one_of_racing_writers(
    bucket: str, prefix: str
) -> None:
    credentials = S3Credentials.from_env()
    assert put_if_absent(credentials, bucket, f"{prefix}/1.json", b"first")
    assert not put_if_absent(credentials, bucket, f"{prefix}/1.json", b"second")
    with ThreadPoolExecutor(8) as pool:
        won = list(
            pool.map(
                lambda n: put_if_absent(credentials, bucket, f"{prefix}/2.json", str(n).encode()),
                range(24),
            )
        )
    assert won.count(True) == 1
    fs = credentials.filesystem()
    assert fs.open_input_stream(f"{bucket}/{prefix}/1.json").read() == b"first"
    winner = int(fs.open_input_stream(f"{bucket}/{prefix}/2.json").read())
    assert won[winner]


def test_a_refused_request_is_one_sentence_without_the_secret(bucket: str) -> None:
    good = S3Credentials.from_env()
    wrong = S3Credentials(good.endpoint, good.region, good.access_key, "not-the-secret")
    with pytest.raises(ObjectStoreError) as caught:
        put_if_absent(wrong, bucket, "log/x.json", b"x")
    message = str(caught.value)
    assert f"s3://{bucket}/log/x.json" in message and "403" in message
    assert "not-the-secret" not in message and S3_SECRET_KEY not in message


def test_a_commit_without_keys_says_which_variables_to_set(prefix: str) -> None:
    anonymous = S3Credentials("http://127.0.0.1:9", "us-east-1", None, None)
    with pytest.raises(ObjectStoreError, match="needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        put_if_absent(anonymous, "lake", f"{prefix}/1.json", b"x")
    temporary = S3Credentials("http://127.0.0.1:9", "us-east-1", "k", "s", "token-123")
    assert "token-123" not in repr(temporary) and "'s'" not in repr(temporary)


@pytest.mark.parametrize(
    "endpoint",
    [
        "localhost:9000",  # no scheme: was dropped, and the requests went to AWS
        "http://127.0.0.1:99999",  # was wrapped to port 34463
        "http://127.0.0.1:0",
        "http://[::1",
        "ftp://host:21",
        "http://:9000",
        "http://host:9000/prefix",
    ],
)
def test_an_endpoint_that_is_no_server_address_is_named(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(ObjectStoreError) as caught:
        S3Credentials.from_env()
    message = str(caught.value)
    assert message.startswith(f"AWS_ENDPOINT_URL={endpoint}: not an address of an S3-compatible")
    assert "write it like http://localhost:9000" in message and "\n" not in message


def test_an_endpoint_is_an_http_or_https_address(monkeypatch: pytest.MonkeyPatch) -> None:
    for endpoint in ("http://127.0.0.1:9000", "https://s3.example.org", "http://[::1]:9000/"):
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        assert S3Credentials.from_env().endpoint == endpoint
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    assert S3Credentials.from_env().endpoint is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://key:the-secret@127.0.0.1:9000")
    with pytest.raises(ObjectStoreError) as caught:
        S3Credentials.from_env()
    assert "the-secret" not in str(caught.value)
    assert str(caught.value).startswith("AWS_ENDPOINT_URL: not an address")
