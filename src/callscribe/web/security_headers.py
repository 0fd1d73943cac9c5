"""Security headers on every response (pages, JSON, static files, errors): no framing,
no MIME sniffing, no full referrer leaving the site, and a Content-Security-Policy that
lets the browser load scripts, styles, images and connections only from this origin."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No 'unsafe-inline': every script and stylesheet is a file under /static (htmx,
# Chart.js, Swagger UI and ReDoc are vendored there); templates carry no <script> or
# <style> blocks, no on* handlers and no style= attributes (CSSOM changes from those
# scripts, element.style.x = ..., are not inline styles and stay allowed). ReDoc's
# search runs in a worker it starts from a blob: URL (worker-src).
# The two <style> elements the vendored ReDoc 2.5.0 bundle writes while it loads,
# before it can be told a nonce (an empty one and its base CSS): allowed by hash on
# /api/redoc only. A new ReDoc version has new hashes (the browser test says which).
REDOC_LOAD_STYLE_HASHES = (
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=",
)


def content_security_policy(
    style_nonce: str | None = None, style_hashes: tuple[str, ...] = ()
) -> str:
    """The policy; `style_nonce` lets one response's own <style> elements through (ReDoc's
    styled-components writes its CSS into nonce-carrying <style> elements at run time),
    `style_hashes` the <style> elements with exactly that content."""
    extra = [f"'nonce-{style_nonce}'"] if style_nonce else []
    extra += [f"'{h}'" for h in style_hashes]
    style_src = " ".join(["style-src 'self'", *extra])
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            style_src,
            "img-src 'self' data:",
            "font-src 'self' data:",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware), so streamed downloads stay streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
