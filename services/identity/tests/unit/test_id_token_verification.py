"""An ID token proves who signed in only when it verifies: signed by a key the provider
publishes, for this client, unexpired, with the nonce of this sign-in and the eidas1 level."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from identity_service.adapters.openid import IdentityNotVerified, verify_id_token

ISSUER, CLIENT, NONCE, ACCESS_TOKEN = "https://idp.example", "ants-identity", "n-123", "at-456"
PROVIDER_KEY = ECKey.generate_key("P-256", auto_kid=True)
JWKS = {"keys": [PROVIDER_KEY.as_dict(private=False)]}


def id_token(key: ECKey = PROVIDER_KEY, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": "demo-marie-martin", "aud": [CLIENT], "iat": now,
        "exp": now + 60, "nonce": NONCE, "acr": "eidas1",
    } | changes
    return jwt.encode({"alg": "ES256", "kid": key.kid}, {k: v for k, v in claims.items() if v is not None}, key)


def verify(token: str) -> dict[str, Any]:
    return verify_id_token(
        token, ACCESS_TOKEN, JWKS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE,
        acr_values=("eidas1",), algorithms=["ES256"],
    )


def test_a_token_of_the_provider_for_this_sign_in_verifies() -> None:
    assert verify(id_token())["sub"] == "demo-marie-martin"


@pytest.mark.parametrize("forged", [
    pytest.param(lambda: id_token(ECKey.generate_key("P-256", auto_kid=True)), id="another key"),
    pytest.param(lambda: id_token(nonce="n-of-another-sign-in"), id="wrong nonce"),
    pytest.param(lambda: id_token(nonce=None), id="no nonce"),
    pytest.param(lambda: id_token(exp=int(time.time()) - 3600), id="expired"),
    pytest.param(lambda: id_token(aud=["another-client"]), id="wrong audience"),
    pytest.param(lambda: id_token(iss="https://impostor.example"), id="wrong issuer"),
    pytest.param(lambda: id_token(acr="eidas0"), id="lower level"),
    pytest.param(lambda: id_token(acr=None), id="no level"),
])
def test_a_forged_token_is_refused(forged: Any) -> None:
    with pytest.raises(IdentityNotVerified):
        verify(forged())


def test_an_unsigned_token_is_refused() -> None:
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    payload = id_token().split(".")[1]
    with pytest.raises(IdentityNotVerified):
        verify(f"{header}.{payload}.")
