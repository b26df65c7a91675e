"""Access tokens and opaque secrets, attacked for real.

Forged tokens are built by hand (base64url segments, HMAC signatures) rather than through PyJWT,
so the tests do not depend on PyJWT to produce the malformed input they feed to PyJWT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_ext.auth.secret_tokens import (
    ALPHABET,
    LOOKUP_LENGTH,
    SECRET_LENGTH,
    TOKEN_LENGTH,
    IssuedSecret,
    SecretKind,
    hash_secret,
    issue_secret,
    looks_like_secret,
    parse_secret,
    secret_matches,
)
from analytics_ext.auth.tokens import (
    MAX_TOKEN_LENGTH,
    REQUIRED_CLAIMS,
    AccessClaims,
    AccessTokenCodec,
)
from analytics_ext.errors import Unauthenticated

KEY = hashlib.sha256(b"analytics_ext test signing key").digest()
OTHER_KEY = hashlib.sha256(b"somebody else's key").digest()
ISSUER = "analytics_ext"
AUDIENCE = "analytics_ext:api"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
LIFETIME = timedelta(minutes=15)
LEEWAY = timedelta(seconds=30)
T0 = int(NOW.timestamp())

CODEC = AccessTokenCodec(KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=LIFETIME, leeway=LEEWAY)
GENERIC_MESSAGE = Unauthenticated().message
_DROP = object()


# --------------------------------------------------------------------------- token crafting


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def hmac_signature(signing_input: str, key: bytes = KEY, digest: Any = hashlib.sha256) -> str:
    return b64(hmac.new(key, signing_input.encode(), digest).digest())


def claims(**changes: Any) -> dict[str, Any]:
    """A valid payload at NOW; ``claim=_DROP`` removes a claim."""
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "sid": "session-1",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + int(LIFETIME.total_seconds()),
        "jti": "token-1",
        "typ": "access",
    }
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not _DROP}


def forge(
    payload: dict[str, Any] | None = None,
    *,
    header: dict[str, Any] | None = None,
    key: bytes = KEY,
    digest: Any = hashlib.sha256,
) -> str:
    """A compact JWS signed by hand with HMAC (by default exactly what a valid token is)."""
    header = {"alg": "HS256", "typ": "JWT"} if header is None else header
    signing_input = f"{b64json(header)}.{b64json(claims() if payload is None else payload)}"
    return f"{signing_input}.{hmac_signature(signing_input, key, digest)}"


def segments(token: str) -> list[str]:
    return token.split(".")


def swap_header(token: str, header: dict[str, Any]) -> str:
    """The same payload and signature under another header."""
    _, payload, signature = segments(token)
    return f"{b64json(header)}.{payload}.{signature}"


def flip_first(text: str) -> str:
    # The first character carries 6 full bits; the last may carry only padding bits.
    return ("B" if text[0] == "A" else "A") + text[1:]


def padded(length: int) -> str:
    """A correctly signed token of exactly ``length`` characters (padding in an extra claim)."""
    base = len(forge(claims(pad="")))
    for pad in range(max(0, (length - base) * 3 // 4 - 4), length):
        token = forge(claims(pad="x" * pad))
        if len(token) == length:
            return token
        if len(token) > length:
            break
    raise AssertionError(f"cannot make a token of exactly {length} characters")


def legit() -> str:
    return CODEC.issue("user-1", "session-1", now=NOW)


# --------------------------------------------------------------------------- access tokens


def test_roundtrip() -> None:
    token = CODEC.issue("user-1", "session-1", now=NOW + timedelta(microseconds=999))
    result = CODEC.verify(token, now=NOW)
    assert isinstance(result, AccessClaims)
    assert result.user_id == "user-1"
    assert result.session_id == "session-1"
    assert result.issued_at == NOW  # whole seconds
    assert result.expires_at == NOW + LIFETIME
    assert result.issued_at.tzinfo is not None
    assert result.issued_at.utcoffset() == timedelta(0)
    assert len(result.token_id) >= 22


def test_token_carries_exactly_the_documented_claims() -> None:
    token = legit()
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert set(payload) == set(REQUIRED_CLAIMS)
    assert payload["typ"] == "access"
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert payload["iat"] == payload["nbf"] == T0
    assert payload["exp"] == T0 + 15 * 60


def test_hand_built_token_verifies() -> None:
    """The forging helpers build valid tokens, so each attack below changes only one thing."""
    assert CODEC.verify(forge(), now=NOW).user_id == "user-1"


def test_token_ids_are_unique() -> None:
    ids = {CODEC.verify(legit(), now=NOW).token_id for _ in range(200)}
    assert len(ids) == 200


def test_default_clock() -> None:
    result = CODEC.verify(CODEC.issue("user-1", "session-1"))
    assert abs(result.issued_at - datetime.now(UTC)) < timedelta(seconds=5)


def test_issue_and_verify_refuse_naive_now() -> None:
    naive = datetime(2030, 1, 1)  # naive on purpose
    with pytest.raises(ValueError, match="timezone-aware"):
        CODEC.issue("user-1", "session-1", now=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        CODEC.verify(legit(), now=naive)


def test_other_timezones_mean_the_same_moment() -> None:
    tz = datetime.now(UTC).astimezone().tzinfo
    token = CODEC.issue("user-1", "session-1", now=NOW.astimezone(tz))
    assert CODEC.verify(token, now=NOW).issued_at == NOW


@pytest.mark.parametrize(
    "offset", [timedelta(0), LIFETIME, LIFETIME + LEEWAY - timedelta(seconds=1)]
)
def test_accepted_until_expiry_plus_leeway(offset: timedelta) -> None:
    assert CODEC.verify(legit(), now=NOW + offset).user_id == "user-1"


@pytest.mark.parametrize(
    "offset", [LIFETIME + LEEWAY, LIFETIME + LEEWAY + timedelta(seconds=1), timedelta(days=400)]
)
def test_refused_past_expiry_plus_leeway(offset: timedelta) -> None:
    with pytest.raises(Unauthenticated):
        CODEC.verify(legit(), now=NOW + offset)


def test_accepted_up_to_leeway_before_issue() -> None:
    """A server whose clock is behind the issuer's by up to the leeway still accepts."""
    assert CODEC.verify(legit(), now=NOW - LEEWAY).user_id == "user-1"
    with pytest.raises(Unauthenticated):
        CODEC.verify(legit(), now=NOW - LEEWAY - timedelta(seconds=1))


def test_nbf_within_leeway_accepted() -> None:
    token = forge(claims(nbf=T0 + 30))
    assert CODEC.verify(token, now=NOW).user_id == "user-1"


def test_shorter_configured_lifetime_also_cuts_tokens_already_issued() -> None:
    stricter = AccessTokenCodec(
        KEY, issuer=ISSUER, audience=AUDIENCE, lifetime=timedelta(minutes=5)
    )
    with pytest.raises(Unauthenticated):
        stricter.verify(legit(), now=NOW)


def test_under_4_kib_accepted() -> None:
    token = padded(MAX_TOKEN_LENGTH)
    assert len(token) == MAX_TOKEN_LENGTH
    assert CODEC.verify(token, now=NOW).user_id == "user-1"


def _alg_none(alg: str, signature: str = "") -> Callable[[], str]:
    def make() -> str:
        header_payload = ".".join(segments(legit())[:2])
        return swap_header(f"{header_payload}.{signature}", {"alg": alg, "typ": "JWT"})

    return make


def _resigned(header: dict[str, Any], digest: Any) -> Callable[[], str]:
    return lambda: forge(header=header, digest=digest)


def _tampered_payload() -> str:
    header, _, signature = segments(legit())
    payload = b64json(claims(sub="admin"))
    return f"{header}.{payload}.{signature}"


def _flipped_signature() -> str:
    header, payload, signature = segments(legit())
    return f"{header}.{payload}.{flip_first(signature)}"


def _stripped_signature() -> str:
    header, payload, _ = segments(legit())
    return f"{header}.{payload}."


ATTACKS: dict[str, Callable[[], str]] = {
    # algorithm attacks
    "alg none, no signature": _alg_none("none"),
    "alg None, no signature": _alg_none("None"),
    "alg NONE, no signature": _alg_none("NONE"),
    "alg none, signature kept": lambda: swap_header(legit(), {"alg": "none", "typ": "JWT"}),
    "alg HS512 header, HS256 signature reused": lambda: swap_header(
        legit(), {"alg": "HS512", "typ": "JWT"}
    ),
    "alg RS256 header, HS256 signature reused": lambda: swap_header(
        legit(), {"alg": "RS256", "typ": "JWT"}
    ),
    "alg ES256 header, HS256 signature reused": lambda: swap_header(
        legit(), {"alg": "ES256", "typ": "JWT"}
    ),
    "alg hs256 lower case": lambda: swap_header(legit(), {"alg": "hs256", "typ": "JWT"}),
    "no alg in header": lambda: swap_header(legit(), {"typ": "JWT"}),
    "alg HS512, really signed with our key": _resigned({"alg": "HS512"}, hashlib.sha512),
    "alg HS384, really signed with our key": _resigned({"alg": "HS384"}, hashlib.sha384),
    "b64 false detached payload": lambda: forge(
        header={"alg": "HS256", "b64": False, "crit": ["b64"]}
    ),
    # signature attacks
    "signed with another key": lambda: forge(key=OTHER_KEY),
    "signed with an empty key": lambda: forge(key=b""),
    "signature flipped": _flipped_signature,
    "signature stripped": _stripped_signature,
    "payload tampered, original signature": _tampered_payload,
    # claim attacks (all correctly signed with our key)
    "wrong iss": lambda: forge(claims(iss="someone-else")),
    "wrong aud": lambda: forge(claims(aud="jupyterhub")),
    "aud list containing ours": lambda: forge(claims(aud=[AUDIENCE])),
    "aud list with ours and another": lambda: forge(claims(aud=["other", AUDIENCE])),
    "iss not a string": lambda: forge(claims(iss=[ISSUER])),
    "exp beyond leeway": lambda: forge(claims(exp=T0 - 30)),
    "exp long ago": lambda: forge(claims(iat=T0 - 3600, nbf=T0 - 3600, exp=T0 - 3000)),
    "nbf in the future beyond leeway": lambda: forge(claims(nbf=T0 + 31)),
    "iat in the future beyond leeway": lambda: forge(claims(iat=T0 + 31)),
    "everything in the future": lambda: forge(
        claims(iat=T0 + 3600, nbf=T0 + 3600, exp=T0 + 3600 + 900)
    ),
    "lifetime longer than configured": lambda: forge(claims(exp=T0 + 900 + 1)),
    "exp before iat": lambda: forge(claims(iat=T0 + 10, exp=T0 + 5)),
    "exp equal to iat": lambda: forge(claims(exp=T0)),
    "exp as a numeric string": lambda: forge(claims(exp=str(T0 + 900))),
    "exp as a float": lambda: forge(claims(exp=T0 + 900.0)),
    "exp true": lambda: forge(claims(exp=True)),
    "exp beyond year 9999": lambda: forge(claims(exp=10**20)),
    "iat negative": lambda: forge(claims(iat=-1)),
    "nbf as a string": lambda: forge(claims(nbf=str(T0))),
    "typ refresh": lambda: forge(claims(typ="refresh")),
    "typ Access": lambda: forge(claims(typ="Access")),
    "typ not a string": lambda: forge(claims(typ=["access"])),
    "sub not a string": lambda: forge(claims(sub=42)),
    "sub empty": lambda: forge(claims(sub="")),
    "sub null": lambda: forge(claims(sub=None)),
    "sid not a string": lambda: forge(claims(sid=42)),
    "sid a list": lambda: forge(claims(sid=["session-1"])),
    "sid empty": lambda: forge(claims(sid="")),
    "jti not a string": lambda: forge(claims(jti=7)),
    **{
        f"missing {name}": (lambda name=name: forge(claims(**{name: _DROP})))
        for name in REQUIRED_CLAIMS
    },
    "payload a JSON array": lambda: forge([claims()]),  # type: ignore[arg-type]
    "payload a JSON string": lambda: forge("user-1"),  # type: ignore[arg-type]
    # size and shape
    "over 4 KiB, correctly signed": lambda: padded(MAX_TOKEN_LENGTH + 1),
    "megabyte of garbage": lambda: "a" * 1_000_000,
    "empty string": lambda: "",
    "whitespace": lambda: "   ",
    "garbage": lambda: "not a token",
    "three garbage segments": lambda: "a.b.c",
    "two segments": lambda: ".".join(segments(legit())[:2]),
    "four segments": lambda: legit() + ".x",
    "five segments (JWE shape)": lambda: "eyJhbGciOiJkaXIifQ..aaaa.bbbb.cccc",
    "dots only": lambda: "....",
    "header not JSON": lambda: "bm90IGpzb24." + ".".join(segments(legit())[1:]),
    "header a JSON array": lambda: swap_header(legit(), ["HS256"]),  # type: ignore[arg-type]
    "header not base64": lambda: "!!!." + ".".join(segments(legit())[1:]),
    "Bearer prefix left on": lambda: "Bearer " + legit(),
    "trailing newline": lambda: legit() + "\n",
    "non-ASCII character": lambda: legit()[:-1] + "é",
    "NUL byte": lambda: legit()[:10] + "\x00" + legit()[10:],
    "lone surrogate": lambda: legit() + "\udcff",
    "deeply nested header": lambda: f"{b64(b'[' * 2000)}.e30.",
}


def _refusal(token: object) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        CODEC.verify(token, now=NOW)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_refused_with_the_generic_message(name: str) -> None:
    token = ATTACKS[name]()
    error = _refusal(token)
    assert error.message == GENERIC_MESSAGE
    assert str(error) == GENERIC_MESSAGE
    assert error.status == 401
    # No chained exception whose text could say which check failed (or echo the token).
    assert error.__cause__ is None
    assert error.__context__ is None


def test_all_refusals_are_indistinguishable() -> None:
    errors = [_refusal(make()) for make in ATTACKS.values()]
    errors += [_refusal(value) for value in (None, 42, legit().encode(), ["a.b.c"])]
    assert {(type(e), str(e), e.args, e.status) for e in errors} == {
        (Unauthenticated, GENERIC_MESSAGE, (GENERIC_MESSAGE,), 401)
    }


def test_oversized_token_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded an oversized token")

    monkeypatch.setattr(jwt, "decode", must_not_run)
    _refusal(padded(MAX_TOKEN_LENGTH + 1))


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        (b"k" * 31, {}),
        (b"", {}),
        (KEY, {"leeway": timedelta(seconds=61)}),
        (KEY, {"leeway": timedelta(seconds=-1)}),
        (KEY, {"lifetime": timedelta(0)}),
        (KEY, {"lifetime": timedelta(seconds=-60)}),
        (KEY, {"lifetime": timedelta(milliseconds=500)}),
        (KEY, {"issuer": ""}),
        (KEY, {"audience": ""}),
    ],
)
def test_codec_refuses_weak_configuration(key: bytes, kwargs: dict[str, Any]) -> None:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, **kwargs}
    with pytest.raises(ValueError):
        AccessTokenCodec(key, **options)


def test_codec_accepts_the_limits() -> None:
    codec = AccessTokenCodec(
        b"k" * 32, issuer=ISSUER, audience=AUDIENCE, leeway=timedelta(seconds=60)
    )
    assert codec.verify(codec.issue("u", "s", now=NOW), now=NOW).user_id == "u"


def test_codec_refuses_a_text_key() -> None:
    with pytest.raises(TypeError):
        AccessTokenCodec("k" * 64, issuer=ISSUER, audience=AUDIENCE)  # type: ignore[arg-type]


@pytest.mark.parametrize(("user_id", "session_id"), [("", "s"), ("u", ""), (None, "s"), ("u", 1)])
def test_issue_refuses_empty_ids(user_id: Any, session_id: Any) -> None:
    with pytest.raises(ValueError, match="non-empty string"):
        CODEC.issue(user_id, session_id, now=NOW)


def test_issue_refuses_to_make_a_token_verify_would_refuse() -> None:
    with pytest.raises(ValueError, match="too long"):
        CODEC.issue("u" * 4000, "s", now=NOW)


def test_hs512_refused_even_with_a_key_long_enough_for_it() -> None:
    """Refusal comes from the allow-list, not from PyJWT's minimum key length for HS512."""
    long_key = hashlib.sha512(b"a 64-byte key").digest()
    codec = AccessTokenCodec(long_key, issuer=ISSUER, audience=AUDIENCE)
    assert codec.verify(forge(key=long_key), now=NOW).user_id == "user-1"
    for alg, digest in (("HS512", hashlib.sha512), ("HS384", hashlib.sha384)):
        with pytest.raises(Unauthenticated):
            codec.verify(forge(header={"alg": alg}, key=long_key, digest=digest), now=NOW)


def test_codec_holding_the_key_does_not_show_it() -> None:
    assert KEY.hex() not in repr(CODEC)
    assert repr(KEY) not in repr(CODEC)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_verify_refuses_arbitrary_text(text: str) -> None:
    _refusal(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=5))
def test_verify_refuses_arbitrary_segments(parts: list[bytes]) -> None:
    _refusal(".".join(b64(part) for part in parts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(
        st.sampled_from([*REQUIRED_CLAIMS, "extra"]),
        st.one_of(st.just(_DROP), JSON_VALUES, st.integers(T0 - 2000, T0 + 2000)),
        max_size=4,
    ),
    header_changes=st.dictionaries(st.sampled_from(["alg", "typ", "kid", "crit"]), JSON_VALUES),
)
def test_correctly_signed_arbitrary_claims_never_crash(
    changes: dict[str, Any], header_changes: dict[str, Any]
) -> None:
    """Even with our own key, odd claims or headers give Unauthenticated or valid claims only."""
    token = forge(claims(**changes), header={"alg": "HS256", "typ": "JWT", **header_changes})
    outcome: AccessClaims | Unauthenticated
    try:
        outcome = CODEC.verify(token, now=NOW)
    except Unauthenticated as error:
        outcome = error
    if isinstance(outcome, Unauthenticated):
        assert outcome.message == GENERIC_MESSAGE
        return
    result = outcome
    payload = claims(**changes)
    assert result.user_id == payload["sub"]
    assert result.session_id == payload["sid"]
    assert payload["typ"] == "access"
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert result.expires_at > NOW - LEEWAY
    assert result.expires_at - result.issued_at <= LIFETIME


# --------------------------------------------------------------------------- opaque secrets

TOKEN_RE = re.compile(r"(ae[rkpvtl])_([A-Za-z0-9]{12})_([A-Za-z0-9]{43})")


def test_kinds_are_distinct_three_letter_prefixes() -> None:
    values = [kind.value for kind in SecretKind]
    assert len(set(values)) == len(values) == 6
    assert all(len(v) == 3 and v.startswith("ae") and v.isalpha() for v in values)


@pytest.mark.parametrize("kind", list(SecretKind))
def test_issued_secret_format(kind: SecretKind) -> None:
    issued = issue_secret(kind)
    assert issued.kind is kind
    assert len(issued.token) == TOKEN_LENGTH == 60
    assert issued.token.startswith(f"{kind.value}_")
    match = TOKEN_RE.fullmatch(issued.token)
    assert match is not None
    assert match.group(1) == kind.value
    assert match.group(2) == issued.lookup
    assert len(issued.lookup) == LOOKUP_LENGTH
    assert issued.token.count("_") == 2
    assert parse_secret(issued.token) == (kind, issued.lookup, match.group(3))
    assert secret_matches(match.group(3), issued.secret_hash)


def test_issued_secret_repr_hides_the_token() -> None:
    issued = issue_secret(SecretKind.API_KEY)
    _, _, secret = parse_secret(issued.token) or ("", "", "")
    assert issued.token not in repr(issued)
    assert secret not in repr(issued)
    assert issued.lookup in repr(issued)


def test_issued_secrets_never_repeat() -> None:
    issued = [issue_secret(SecretKind.API_KEY) for _ in range(1000)]
    parsed = [parse_secret(i.token) for i in issued]
    assert all(p is not None for p in parsed)
    lookups = {p[1] for p in parsed if p}
    secrets_ = {p[2] for p in parsed if p}
    assert len(lookups) == len(secrets_) == len({i.secret_hash for i in issued}) == 1000
    # Every character of the alphabet is used (43,000 draws, ~690 expected of each).
    assert set("".join(secrets_)) == set(ALPHABET)


def test_hash_is_not_the_secret() -> None:
    issued = issue_secret(SecretKind.REFRESH)
    parsed = parse_secret(issued.token)
    assert parsed is not None
    _, lookup, secret = parsed
    assert lookup == issued.lookup
    assert issued.secret_hash != secret
    assert secret not in issued.secret_hash
    assert issued.token not in issued.secret_hash
    assert issued.secret_hash == hash_secret(secret)  # deterministic
    assert issued.secret_hash == "sha256$" + hashlib.sha256(secret.encode()).hexdigest()
    assert re.fullmatch(r"sha256\$[0-9a-f]{64}", issued.secret_hash)


def test_secret_matches() -> None:
    issued = issue_secret(SecretKind.PASSWORD_RESET)
    parsed = parse_secret(issued.token)
    assert parsed is not None
    secret = parsed[2]
    other = parse_secret(issue_secret(SecretKind.PASSWORD_RESET).token)
    assert other is not None
    assert secret_matches(secret, issued.secret_hash)
    assert not secret_matches(other[2], issued.secret_hash)
    assert not secret_matches(flip_first(secret), issued.secret_hash)
    assert not secret_matches(issued.token, issued.secret_hash)  # the whole token is not the secret
    assert not secret_matches(secret, issued.secret_hash.upper())
    assert not secret_matches(secret, issued.secret_hash.removeprefix("sha256$"))
    assert not secret_matches(secret, "md5$" + hashlib.md5(secret.encode()).hexdigest())
    assert not secret_matches(secret, "")
    assert not secret_matches("", hash_secret("x"))
    assert not secret_matches(secret, "sha256$" + "é" * 64)
    assert not secret_matches(None, issued.secret_hash)  # type: ignore[arg-type]
    assert not secret_matches(secret, None)  # type: ignore[arg-type]


def test_secret_matches_compares_the_whole_hash_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import analytics_ext.auth.secret_tokens as module

    issued = issue_secret(SecretKind.API_KEY)
    parsed = parse_secret(issued.token)
    assert parsed is not None
    last = issued.secret_hash[-1]
    off_by_last = issued.secret_hash[:-1] + ("0" if last != "0" else "1")
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(module.hmac, "compare_digest", spy)
    assert not secret_matches(parsed[2], off_by_last)
    assert secret_matches(parsed[2], issued.secret_hash)
    assert len(calls) == 2


def test_hash_secret_refuses_empty() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        hash_secret("")


def _valid_token(kind: SecretKind = SecretKind.API_KEY) -> str:
    """A well-formed token, the same in every process: parametrized test ids are built from it,
    and pytest-xdist workers must collect identical ids."""
    chosen = random.Random(kind.value)
    lookup = "".join(chosen.choice(ALPHABET) for _ in range(LOOKUP_LENGTH))
    secret = "".join(chosen.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    return f"{kind.value}_{lookup}_{secret}"


def _replace(token: str, index: int, text: str) -> str:
    return token[:index] + text + token[index + 1 :]


VALID = _valid_token()
SPLIT1 = 3  # index of the first underscore
SPLIT2 = 3 + 1 + LOOKUP_LENGTH  # index of the second underscore

MALFORMED: dict[str, str] = {
    "unknown kind": "aez" + VALID[3:],
    "upper-case kind": "AEK" + VALID[3:],
    "GitHub-style prefix": "ghp" + VALID[3:],
    "kind missing": VALID[4:],
    "lookup one short": VALID[: SPLIT1 + 1] + VALID[SPLIT1 + 2 :] + "a",
    "lookup one long": VALID[:SPLIT2] + "a" + VALID[SPLIT2:-1],
    "secret one short": VALID[:-1],
    "secret one long": VALID + "a",
    "lookup empty": VALID[: SPLIT1 + 1] + VALID[SPLIT2:],
    "secret empty": VALID[: SPLIT2 + 1],
    "dash in secret": _replace(VALID, 30, "-"),
    "plus in secret": _replace(VALID, 30, "+"),
    "slash in lookup": _replace(VALID, 6, "/"),
    "equals padding": VALID[:-1] + "=",
    "non-ASCII letter": _replace(VALID, 30, "é"),
    "non-ASCII digit": _replace(VALID, 30, "٣"),
    "full-width letter": _replace(VALID, 30, "\uff21"),
    "space inside": _replace(VALID, 30, " "),
    "NUL inside": _replace(VALID, 30, "\x00"),
    "trailing newline": VALID[:-1] + "\n",
    "surrounding spaces": " " + VALID[1:-1] + " ",
    "underscore inside lookup": _replace(VALID, 8, "_"),
    "underscore inside secret": _replace(VALID, 40, "_"),
    "leading underscore": "_" + VALID[:-1],
    "trailing underscore": VALID[:-1] + "_",
    "double underscore after kind": VALID[: SPLIT1 + 1] + "_" + VALID[SPLIT1 + 1 : -1],
    "first separator moved": _replace(_replace(VALID, SPLIT1, "a"), SPLIT1 + 1, "_"),
    "second separator moved": _replace(_replace(VALID, SPLIT2, "a"), SPLIT2 - 1, "_"),
    "separators are dashes": _replace(_replace(VALID, SPLIT1, "-"), SPLIT2, "-"),
    "no separators": VALID.replace("_", "a"),
    "empty": "",
    "60 underscores": "_" * TOKEN_LENGTH,
    "JWT": CODEC.issue("user-1", "session-1", now=NOW)[:TOKEN_LENGTH],
}


def test_malformed_cases_keep_the_length_where_it_matters() -> None:
    """Most cases are exactly 60 characters, so the pattern, not the length check, refuses them."""
    same_length = [name for name, text in MALFORMED.items() if len(text) == TOKEN_LENGTH]
    assert len(same_length) >= 20


@pytest.mark.parametrize("name", list(MALFORMED))
def test_parse_secret_refuses(name: str) -> None:
    assert parse_secret(MALFORMED[name]) is None


@pytest.mark.parametrize("value", [None, 42, VALID.encode(), [VALID], object()])
def test_parse_secret_refuses_non_text(value: object) -> None:
    assert parse_secret(value) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(SecretKind))
def test_parse_secret_roundtrip(kind: SecretKind) -> None:
    token = _valid_token(kind)
    parsed = parse_secret(token)
    assert parsed is not None
    parsed_kind, lookup, secret = parsed
    assert parsed_kind is kind
    assert f"{parsed_kind}_{lookup}_{secret}" == token
    assert len(secret) == SECRET_LENGTH


def _independent_check(text: str) -> tuple[str, str, str] | None:
    match = TOKEN_RE.fullmatch(text)
    return None if match is None else (match.group(1), match.group(2), match.group(3))


@settings(max_examples=500)
@given(st.text())
def test_parse_secret_never_raises_on_arbitrary_text(text: str) -> None:
    result = parse_secret(text)
    assert result == _independent_check(text)
    assert looks_like_secret(text) in (True, False)


@settings(max_examples=500)
@given(
    st.from_regex(
        r"[a-zA-Z]{2,4}[_-][A-Za-z0-9_=-]{10,14}[_-][A-Za-z0-9_=+/-]{40,46}", fullmatch=True
    )
)
def test_parse_secret_agrees_with_the_format_on_near_misses(text: str) -> None:
    assert parse_secret(text) == _independent_check(text)


@settings(max_examples=500)
@given(index=st.integers(0, TOKEN_LENGTH - 1), replacement=st.text(max_size=2))
def test_parse_secret_on_mutated_tokens(index: int, replacement: str) -> None:
    mutated = VALID[:index] + replacement + VALID[index + 1 :]
    result = parse_secret(mutated)
    assert result == _independent_check(mutated)
    if result is not None:
        assert f"{result[0]}_{result[1]}_{result[2]}" == mutated


@settings(max_examples=300)
@given(st.text(), st.text())
def test_secret_matches_never_raises(secret: str, stored: str) -> None:
    assert secret_matches(secret, stored) in (True, False)
    if secret:
        assert secret_matches(secret, hash_secret(secret))


@pytest.mark.parametrize(
    "value",
    [
        VALID,
        "Bearer " + VALID,
        "bearer " + VALID,
        "  Bearer   " + VALID + "  ",
        *(_valid_token(kind) for kind in SecretKind),
        "aek_malformed-but-ours",  # routed to the secret path, which then refuses it
    ],
)
def test_looks_like_secret(value: str) -> None:
    assert looks_like_secret(value)


@pytest.mark.parametrize(
    "value",
    [
        CODEC.issue("user-1", "session-1", now=NOW),
        "Bearer " + CODEC.issue("user-1", "session-1", now=NOW),
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "token abc",
        "aek",
        "AEK_" + VALID[4:],
        "ghp_" + VALID[4:],
        None,
        b"aek_",
    ],
)
def test_does_not_look_like_secret(value: Any) -> None:
    assert not looks_like_secret(value)


def test_issued_secret_is_frozen() -> None:
    issued = issue_secret(SecretKind.KERNEL)
    assert isinstance(issued, IssuedSecret)
    with pytest.raises(AttributeError):
        issued.token = "x"  # type: ignore[misc]


def test_alphabet_is_letters_and_digits() -> None:
    assert set(ALPHABET) == set(string.ascii_letters + string.digits)
    assert len(ALPHABET) == 62
