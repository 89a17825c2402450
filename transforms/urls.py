"""Canonical URLs, and the article ids derived from them, under a versioned rule.

An article's id is a hash of its canonical URL, so two spellings of one URL must normalise to
one string or the article is stored twice. `URL_RULE` names the rule in force; every article
file states the rule its ids follow in its footer (`newsflow.url_rule`; a file without one
follows rule 1), and `newsflow migrate-urls` brings the ids of files of an older rule to the
current one (transforms/url_migration.py).

- Rule 1: lower-case scheme and host, no default port, no user info, no fragment, no
  tracking parameters, the other query parameters sorted by name.
- Rule 2 (current): rule 1, and the host in IDNA as browsers write it (UTS 46), the path
  as w3lib's `canonicalize_url` spells it — percent-escapes in upper case, escaped unreserved
  characters (`%7E`) and sub-delimiters (`%2B`, `%3D`) decoded, as web servers read them,
  while `%2F`, `%3F`, `%23` and `%25` stay; raw non-ASCII characters escaped as UTF-8; dot
  segments (`/a/./b/../c`) removed — and a query's bytes kept as they are (rule 1 read
  escapes as UTF-8 and replaced the bytes it could not decode, so two different queries
  could meet; `respell` recovers them from the fetched URL where it can).
"""

from __future__ import annotations

import hashlib
from urllib.parse import (
    parse_qsl,
    quote,
    unquote_plus,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

import idna
from w3lib.url import canonicalize_url as _w3lib_canonical

URL_RULE = "2"
URL_RULE_KEY = b"newsflow.url_rule"
FIRST_RULE = "1"  # what a file without the key follows

# query parameters that say how a reader arrived, never which article: dropped from URLs
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "igshid",
    "igsh",
    "yclid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "vero_id",
    "oly_anon_id",
    "oly_enc_id",
    "wt_mc",
    "wt.mc_id",
    "cmpid",
    "ocid",
    "ncid",
    "sr_share",
    "s_cid",
    "at_medium",
    "at_campaign",
    "ref_src",
    "guccounter",
    "guce_referrer",
    "guce_referrer_sig",
    "__twitter_impression",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
# host prefixes that serve the same site's pages in another format; folded when the page's
# canonical link confirms (www.example.com/a and m.example.com/a name one article)
SITE_VARIANT_PREFIXES = ("www.", "m.", "mobile.", "amp.")
DEFAULT_PORTS = {"http": 80, "https": 443}
# what a query keeps unescaped before it is split: its delimiters and existing escapes ('%')
_QUERY_SAFE = "!$%&'()*+,/:;=?@[]~"


def canonical_url(url: str, declared: str | None = None) -> str:
    """The URL that identifies an article.

    The page's declared canonical (link rel=canonical / og:url) wins when it is an http(s)
    URL on the same site: hosts equal up to a leading 'www.', 'm.', 'mobile.' or 'amp.', so
    mobile and AMP copies (including '/amp' paths) fold into the article they declare. A
    declared canonical pointing at the homepage is a template mistake and is ignored, and so
    is one on another site (a syndication partner's canonical names the original, which is
    deduplication's business, not this URL's). The result is normalised by the current rule
    (`normalise_url`).
    """
    chosen = url
    try:
        candidate = urljoin(url, declared.strip()) if declared else ""
        urlsplit(candidate).port  # noqa: B018 - raises ValueError for a malformed URL
    except ValueError:  # a declared canonical no URL parser reads: ignored
        candidate = ""
    if candidate:
        to_home = urlsplit(candidate).path in ("", "/") and urlsplit(url).path not in ("", "/")
        if (
            urlsplit(candidate).scheme in ("http", "https")
            and _site(candidate) == _site(url)
            and not to_home
        ):
            chosen = candidate  # a canonical pointing at the homepage is a template mistake
    return normalise_url(chosen)


def normalise_url(url: str) -> str:
    """`url` spelt by the current rule (URL_RULE; see the module's docstring). Idempotent."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _host(parts.hostname or "")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range: no port a request could use
        port = None
    if port and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = _path(parts.path)
    if not host:  # no authority: a path must not read as one ("//host/...")
        path = "/" + path.lstrip("/")
    return urlunsplit((scheme, host, path, _query(parts.query), ""))


def request_url(url: str) -> str:
    """`url` as a crawler asks for it: without its fragment (never sent) and its tracking
    parameters (they say how a reader arrived, not what to serve), everything else spelt as
    given, so one article listed as `a?utm_source=rss` and `a#comments` is requested once."""
    parts = urlsplit(url)
    fields = [field for field in parts.query.split("&") if field]
    kept = [field for field in fields if not _tracking(unquote_plus(field.split("=", 1)[0]))]
    if len(kept) == len(fields):
        return url.split("#", 1)[0]
    return urlunsplit(parts._replace(query="&".join(kept), fragment=""))


def respell(url: str, canonical: str) -> str:
    """A canonical URL stored under an older rule, spelt by the current one: from the fetched
    `url` when rule 1 made the stored spelling out of it (rule 1 replaced the query bytes it
    could not read as UTF-8, and the fetched URL still holds them), else from the stored
    spelling (a declared canonical: rule 2 of rule 1's spelling). Idempotent."""
    return normalise_url(url if _rule_1(url) == canonical else canonical)


def _rule_1(url: str) -> str:
    """The first rule, frozen as it was (for `respell`): "" for a URL it could not read."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
        if ":" in host:
            host = f"[{host}]"
        if parts.port and parts.port != DEFAULT_PORTS.get(scheme):
            host = f"{host}:{parts.port}"
    except ValueError:
        return ""
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = sorted(((k, v) for k, v in pairs if not _tracking(k)), key=lambda kv: kv[0])
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def article_id(canonical: str) -> str:
    """A stable 16-hex-digit id derived from the canonical URL."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _host(hostname: str) -> str:
    """The host in lower case; a non-ASCII one in IDNA as browsers write it (UTS 46, not
    transitional: "faß.de" stays apart from "fass.de"), else by Python's IDNA 2003 codec
    (symbols a browser still accepts), else as it came; an IPv6 literal in brackets."""
    host = hostname.lower().rstrip(".")
    if ":" in host:
        return f"[{host}]"
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _path(path: str) -> str:
    """The path as w3lib's canonicalize_url spells it: escapes in upper case, escaped
    unreserved characters and sub-delimiters decoded ("%7E" as "~", "%2B" as "+"; the
    escapes that change a path's meaning, "%2F", "%3F", "%23" and "%25", stay), raw
    characters escaped as UTF-8, dot segments removed; "/" when empty. Only the path goes
    through w3lib, on a fixed host, so no host can leak into it."""
    try:
        spelt = urlsplit(_w3lib_canonical(urlunsplit(("http", "h.invalid", path, "", ""))))
    except ValueError:
        return path or "/"
    return spelt.path or "/"


def _query(query: str) -> str:
    """The query without tracking parameters, sorted by name (only: the order of a repeated
    name's values can matter), its bytes kept: raw characters escaped as UTF-8 first, then
    every escape read and written back as the byte it names (Latin-1 maps bytes one to one)."""
    escaped = quote(query, safe=_QUERY_SAFE)
    pairs = parse_qsl(escaped, keep_blank_values=True, encoding="latin-1")
    kept = sorted(
        ((k, v) for k, v in pairs if not _tracking(k)),
        key=lambda kv: kv[0],
    )
    return urlencode(kept, encoding="latin-1")


def _tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _site(url: str) -> str:
    host = _host(urlsplit(url).hostname or "")
    for prefix in SITE_VARIANT_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host
