"""Time auth0-api-python's verify_access_token on one token, with warm caches.

Prints one JSON line (microseconds per call, median over 21 batches after a warm-up), next to
the bare RS256 check of the same token with `cryptography` (what the Python library's JOSE
stack uses underneath). Run by scripts/compare_python.sh; the tenant's CA must be trusted
through SSL_CERT_FILE (httpx reads it).

    python compare_python.py --domain 127.0.0.1:PORT --audience AUD --token eyJ... [--iterations N]
"""

import argparse
import asyncio
import base64
import json
import time
import warnings
from importlib.metadata import version

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Authlib forces its deprecation warnings on ("always"); the reference imports authlib.jose.
warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
from auth0_api_python import ApiClient, ApiClientOptions  # noqa: E402

BATCHES = 21


def b64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


async def median_us(iterations: int, call) -> float:
    per_batch = max(iterations // BATCHES, 1)
    for _ in range(per_batch):
        await call()
    samples = []
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(per_batch):
            await call()
        samples.append((time.perf_counter() - start) * 1e6 / per_batch)
    samples.sort()
    return samples[BATCHES // 2]


async def bare_key(domain: str, token: str) -> rsa.RSAPublicKey:
    kid = json.loads(b64(token.split(".")[0]))["kid"]
    async with httpx.AsyncClient() as http:
        jwks = (await http.get(f"https://{domain}/.well-known/jwks.json")).json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    n = int.from_bytes(b64(jwk["n"]), "big")
    e = int.from_bytes(b64(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--domain", required=True)
    p.add_argument("--audience", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--iterations", type=int, default=5000)
    args = p.parse_args()

    client = ApiClient(ApiClientOptions(domain=args.domain, audience=args.audience))
    token = args.token
    await client.verify_access_token(token)  # warms the discovery and JWKS caches

    key = await bare_key(args.domain, token)
    signing_input, _, sig = token.rpartition(".")
    signing_input, sig = signing_input.encode(), b64(sig)

    async def raw():
        key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())

    async def verify():
        await client.verify_access_token(token)

    raw_us = await median_us(args.iterations, raw)
    verify_us = await median_us(args.iterations, verify)
    print(
        json.dumps(
            {
                "version": version("auth0-api-python"),
                "iterations": args.iterations,
                "raw_rs256_us": raw_us,
                "verify_access_token_us": verify_us,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
