#!/usr/bin/python3
"""An OAuth2 authorization server on loopback for syncd's tests, built on oauthlib.

    /usr/bin/python3 tests/oauth2/server.py PORTFILE

Listens on 127.0.0.1 (a port of the kernel's choice, written to PORTFILE once it listens) and
serves, for the one client "syncd-test" (secret "test-secret") and the users alice and bob:

  POST /device_authorization  RFC 8628 §3.1: device_code, user_code, verification_uri, interval
  GET  /device                the verification page the user opens (lists what is waiting)
  POST /device                the user's answer: user_code=ABCD-EFGH&user=alice&action=approve|deny
  POST /token                 oauthlib's TokenEndpoint: grant types refresh_token and the device
                              code (urn:ietf:params:oauth:grant-type:device_code, RFC 8628 §3.4,
                              with authorization_pending, slow_down, expired_token, access_denied)
  POST /introspect            oauthlib's IntrospectEndpoint (RFC 7662), what Dovecot's oauth2
                              passdb asks (introspection_mode = post)
  POST /revoke                oauthlib's RevocationEndpoint (RFC 7009)

and, for the tests to steer it and count what happened:

  POST /test/config           JSON: access_lifetime (s), interval (s), slow_down (how many polls
                              to answer slow_down), rotate_refresh (bool)
  POST /test/expire-access    every access token issued so far stops being active (the server's
                              view; the client still thinks them good)
  POST /test/revoke-refresh   every refresh token is revoked (a user who changed the password)
  GET  /test/stats            JSON counts: hits per endpoint and grant type, refusals

oauthlib 3.2 has the client side of RFC 8628 only, so the device authorization endpoint and the
device-code grant type are written here on oauthlib's GrantTypeBase; tokens come from oauthlib's
BearerToken, and refresh, introspection and revocation are oauthlib's own.
"""
import json
import os
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

from oauthlib.oauth2 import BearerToken, IntrospectEndpoint, RequestValidator, RevocationEndpoint, TokenEndpoint
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types import RefreshTokenGrant
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase

CLIENT_ID = "syncd-test"
CLIENT_SECRET = "test-secret"
USERS = {"alice", "bob"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "mail"

lock = threading.RLock()
settings = {"access_lifetime": 3600, "interval": 1, "slow_down": 0, "rotate_refresh": True, "expires_in": 600}
stats = {}
access_tokens = {}    # token -> {"user", "scope", "exp", "active"}
refresh_tokens = {}   # token -> {"user", "scope", "active"}
devices = {}          # device_code -> {"user_code", "expires", "state": pending|approved|denied, "user", "last_poll"}


def count(name):
    with lock:
        stats[name] = stats.get(name, 0) + 1


class AuthorizationPending(errors.OAuth2Error):
    error = "authorization_pending"
    status_code = 400


class SlowDown(errors.OAuth2Error):
    error = "slow_down"
    status_code = 400


class ExpiredToken(errors.OAuth2Error):
    error = "expired_token"
    status_code = 400


class Validator(RequestValidator):
    """The server's state, as oauthlib asks for it."""

    def client_authentication_required(self, request, *args, **kwargs):
        # Dovecot's introspection carries no client credentials; the token endpoint must.
        return not request.uri.endswith("/introspect")

    def authenticate_client(self, request, *args, **kwargs):
        if request.client_id == CLIENT_ID and request.client_secret in (CLIENT_SECRET, None):
            request.client = type("Client", (), {"client_id": CLIENT_ID})()
            return True
        return False

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        request.client = type("Client", (), {"client_id": client_id})()
        return request.uri.endswith("/introspect") or client_id == CLIENT_ID

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type in ("refresh_token", DEVICE_GRANT)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        with lock:
            entry = refresh_tokens.get(refresh_token)
            if not entry or not entry["active"]:
                count("refresh_refused")
                return False
            request.user = entry["user"]
            request.refresh_token_entry = entry
            return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        with lock:
            return refresh_tokens[refresh_token]["scope"].split()

    def rotate_refresh_token(self, request):
        return settings["rotate_refresh"]

    def save_bearer_token(self, token, request, *args, **kwargs):
        with lock:
            access_tokens[token["access_token"]] = {
                "user": request.user, "scope": token.get("scope", SCOPE),
                "exp": int(time.time()) + int(token["expires_in"]), "active": True}
            if "refresh_token" in token:
                if request.refresh_token and request.refresh_token in refresh_tokens and settings["rotate_refresh"]:
                    refresh_tokens[request.refresh_token]["active"] = False
                refresh_tokens[token["refresh_token"]] = {"user": request.user, "scope": token.get("scope", SCOPE), "active": True}

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs):
        count("introspect")
        with lock:
            entry = access_tokens.get(token)
            if not entry or not entry["active"] or entry["exp"] <= time.time():
                count("introspect_inactive")
                return None
            return {"username": entry["user"], "scope": entry["scope"], "exp": entry["exp"], "client_id": CLIENT_ID,
                    "token_type": "Bearer"}

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        with lock:
            for table in (access_tokens, refresh_tokens):
                if token in table:
                    table[token]["active"] = False


class DeviceCodeGrant(GrantTypeBase):
    """RFC 8628 §3.4–3.5 on oauthlib's grant type machinery."""

    def create_token_response(self, request, token_handler):
        headers = self._get_default_headers()
        try:
            if not self.request_validator.authenticate_client(request):
                raise errors.InvalidClientError(request=request)
            self.validate_device_request(request)
        except errors.OAuth2Error as e:
            headers.update(e.headers)
            return headers, e.json, e.status_code
        token = token_handler.create_token(request, refresh_token=True)
        self.request_validator.save_token(token, request)
        return headers, json.dumps(token), 200

    def validate_device_request(self, request):
        code = request.device_code
        with lock:
            device = devices.get(code)
            if device is None:
                raise errors.InvalidGrantError(description="unknown device_code", request=request)
            now = time.time()
            too_soon = device["last_poll"] is not None and now - device["last_poll"] < settings["interval"] * 0.8
            device["last_poll"] = now
            if settings["slow_down"] > 0:
                settings["slow_down"] -= 1
                count("slow_down")
                raise SlowDown(request=request)
            if too_soon:
                count("slow_down")
                raise SlowDown(request=request)
            if now > device["expires"]:
                raise ExpiredToken(request=request)
            if device["state"] == "denied":
                del devices[code]
                raise errors.AccessDeniedError(request=request)
            if device["state"] != "approved":
                count("pending")
                raise AuthorizationPending(request=request)
            del devices[code]
            request.user = device["user"]
            request.scopes = device["scope"].split()


validator = Validator()
bearer = BearerToken(validator, expires_in=lambda request: settings["access_lifetime"])
token_endpoint = TokenEndpoint(
    default_grant_type="refresh_token", default_token_type=bearer,
    grant_types={"refresh_token": RefreshTokenGrant(validator), DEVICE_GRANT: DeviceCodeGrant(validator)})
introspect_endpoint = IntrospectEndpoint(validator)
revocation_endpoint = RevocationEndpoint(validator)


def user_code():
    alphabet = "BCDFGHJKLMNPQRSTVWXZ"
    raw = "".join(secrets.choice(alphabet) for _ in range(8))
    return raw[:4] + "-" + raw[4:]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        sys.stderr.write("server.py: " + (format % args) + "\n")

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8") if length else ""

    def answer(self, status, body, headers=None, content_type="application/json"):
        data = body.encode("utf-8")
        self.send_response(status)
        for name, value in (headers or {}).items():
            if name.lower() not in ("content-length", "content-type"):
                self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def uri(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def do_GET(self):
        if self.path == "/test/stats":
            with lock:
                return self.answer(200, json.dumps(stats))
        if self.path.startswith("/device"):
            with lock:
                waiting = [d["user_code"] for d in devices.values() if d["state"] == "pending"]
            page = "<html><body><form method=post>Code: <input name=user_code> <input name=user value=alice>" \
                   "<button name=action value=approve>Allow</button><button name=action value=deny>Deny</button>" \
                   f"</form><!-- waiting: {' '.join(waiting)} --></body></html>"
            return self.answer(200, page, content_type="text/html")
        self.answer(404, json.dumps({"error": "not_found"}))

    def do_POST(self):
        body = self.body()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        path = self.path.split("?")[0]
        if path == "/device_authorization":
            count("device_authorization")
            if form.get("client_id") != CLIENT_ID:
                return self.answer(401, json.dumps({"error": "invalid_client"}))
            if form.get("scope", SCOPE) not in (SCOPE, ""):
                return self.answer(400, json.dumps({"error": "invalid_scope", "error_description": "only scope mail"}))
            code, user = secrets.token_urlsafe(24), user_code()
            base = f"http://127.0.0.1:{self.server.server_address[1]}/device"
            with lock:
                devices[code] = {"user_code": user, "expires": time.time() + settings["expires_in"], "state": "pending",
                                 "user": None, "last_poll": None, "scope": SCOPE}
            return self.answer(200, json.dumps({
                "device_code": code, "user_code": user, "verification_uri": base,
                "verification_uri_complete": base + "?" + urlencode({"user_code": user}),
                "expires_in": settings["expires_in"], "interval": settings["interval"]}))
        if path == "/device":
            count("device_" + form.get("action", "?"))
            with lock:
                device = next((d for d in devices.values() if d["user_code"] == form.get("user_code")), None)
                if device is None or form.get("user") not in USERS:
                    return self.answer(404, json.dumps({"error": "unknown code or user"}))
                device["state"] = "approved" if form.get("action") == "approve" else "denied"
                device["user"] = form["user"]
            return self.answer(200, json.dumps({"ok": True}))
        if path == "/token":
            count("token:" + form.get("grant_type", "?"))
            headers, answer, status = token_endpoint.create_token_response(
                self.uri(), http_method="POST", body=body, headers=dict(self.headers))
            if status != 200:
                count("token_refused:" + json.loads(answer or "{}").get("error", "?"))
            return self.answer(status, answer or "", headers)
        if path == "/introspect":
            headers, answer, status = introspect_endpoint.create_introspect_response(
                self.uri(), http_method="POST", body=body, headers=dict(self.headers))
            return self.answer(status, answer or "", headers)
        if path == "/revoke":
            headers, answer, status = revocation_endpoint.create_revocation_response(
                self.uri(), http_method="POST", body=body, headers=dict(self.headers))
            return self.answer(status, answer or "", headers)
        if path == "/test/config":
            with lock:
                settings.update(json.loads(body or "{}"))
            return self.answer(200, json.dumps(settings))
        if path == "/test/expire-access":
            with lock:
                for entry in access_tokens.values():
                    entry["active"] = False
            return self.answer(200, "{}")
        if path == "/test/revoke-refresh":
            with lock:
                for entry in refresh_tokens.values():
                    entry["active"] = False
            return self.answer(200, "{}")
        self.answer(404, json.dumps({"error": "not_found"}))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file = sys.argv[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
