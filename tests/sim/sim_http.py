"""sim_http.py - the HTTP face of the simulated Vinted: one handler for the www host, the api
host and the image CDN (cookies, 401/403/429, faults, pagination caps); the /_sim/ admin API
is sim_admin.py."""

import email.utils
import json
import re
import secrets
import socket
import struct
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from sim_facts import (
    CATALOGS_PATH, CDN_FULL_RE, CDN_RE, ITEM_PAGE_RE, MAX_PER_PAGE, SVC_PATH, USER_ITEMS_RE,
    USER_PER_PAGE, USER_RE, V2_PATH, serve_bytes, sig)
from sim_admin import AdminRoutes

# --------------------------------------------------------------------------
# HTTP


HOME_HTML = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Vinted | Compra e vende roupa</title></head>
<body><div id="__next">Vinted (simulated): {site}</div></body></html>
"""
FORBIDDEN_UA_HTML = """<!DOCTYPE html><html><head><title>403 Forbidden</title></head>
<body><h1>403 Forbidden</h1><p>Request blocked.</p></body></html>
"""
CLOUDFLARE_HTML = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body>
<div class="cf-browser-verification cf-im-under-attack">Checking if the site connection is secure</div>
<div class="cf-error-footer">Ray ID: <code>{ray}</code> &bull; Performance &amp; security by Cloudflare</div>
</body></html>
"""
DATADOME_HTML = """<html><head><title>vinted.{site}</title></head><body style="margin:0">
<p id="cmsg">Please enable JS and disable any ad blocker</p>
<script data-cfasync="false">var dd={{'rt':'c','cid':'{cid}','hsh':'0AC1','t':'bv','host':'geo.captcha-delivery.com'}}</script>
<script data-cfasync="false" src="https://ct.captcha-delivery.com/c.js"></script></body></html>
"""


NOT_FOUND_HTML = "<!DOCTYPE html><title>404</title><h1>Página não encontrada</h1>"
CDN_403 = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Invalid signature</Message></Error>
"""
CDN_404 = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>
"""


class Handler(AdminRoutes, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vinted-sim/1"
    _class = "other"  # the path class of the request being answered

    # -- plumbing --

    def version_string(self):
        return getattr(self, "_server_name", None) or self.server_version

    def log_request(self, code="-", size="-"):
        pass  # we log in _reply, one line per request

    def log_message(self, fmt, *args):
        if not self.server.sim.args.quiet:
            sys.stderr.write("vinted-sim: %s %s\n" % (self.address_string(), fmt % args))

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _reply(self, status, body, ctype="application/json; charset=utf-8",
               headers=(), cut=None, count=True):
        """Send one response. cut=("close", n) sends only n bytes of the body
        under the full Content-Length and drops the connection."""
        sim = self.server.sim
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False, separators=(",", ":"),
                              sort_keys=sim.generation == "svc").encode("utf-8")
        if count:
            with sim.lock:
                sim.stats.status(self._class, status)
                if self._class == "cdn" and status == 200 and self.command != "HEAD":
                    sim.stats.cdn_bytes += cut[1] if cut else len(body)
        headers = list(headers)
        self._server_name = next((v for k, v in headers if k == "Server"), None)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                if k != "Server":
                    self.send_header(k, v)
            if cut:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body[:cut[1]] if cut else body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if not sim.args.quiet:
            ms = (time.monotonic() - self._t0) * 1000
            sys.stderr.write("vinted-sim: %s %s %d %dB %.0fms\n" % (
                self.command, self.path[:200], status, len(body), ms))

    def _cookies(self):
        jar = {}
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                if "=" in part:
                    k, v = part.split("=", 1)
                    jar[k.strip()] = v.strip()
        return jar

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self):
        self._t0 = time.monotonic()
        body = self._read_body()
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            if url.path.startswith("/_sim/"):
                self._admin(url.path, query, body)
            else:
                self._public(url.path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- the public site --

    @staticmethod
    def _classify(path):
        if path in (V2_PATH, SVC_PATH):
            return "catalog"
        if path == "/":
            return "home"
        if path.rstrip("/") == CATALOGS_PATH:
            return "catalogs"
        if USER_ITEMS_RE.match(path):
            return "users"
        if USER_RE.match(path):
            return "user"
        if ITEM_PAGE_RE.match(path):
            return "item_page"
        if path.startswith("/t/") or path.startswith("/tc/"):
            return "cdn"
        return "other"

    def _public(self, path, query):
        sim = self.server.sim
        self._class = self._classify(path)
        proxy = getattr(self.server, "proxy_index", None)
        with sim.lock:
            sim.stats.count(self._class, path)
            sim.by_proxy["direct" if proxy is None else str(proxy)] += self._class != "cdn"
            blocked = proxy is not None and proxy in sim.blocked_proxies
        if proxy is not None and not self.path.startswith("http://"):
            return self._reply(400, b"a proxy port takes absolute-form requests (GET http://host/path)",
                               "text/plain")
        if blocked and self._class != "cdn":  # this egress IP is banned: DataDome answers
            return self._forbidden("datadome")
        if self._class == "cdn":  # the image CDN wants no user agent or cookies
            if self.command not in ("GET", "HEAD"):
                return self._reply(405, b"", "text/plain")
            return self._cdn(path, query)
        if not self.headers.get("User-Agent"):
            return self._reply(403, FORBIDDEN_UA_HTML, "text/html; charset=utf-8")
        if path == "/" and self.command in ("GET", "HEAD"):
            return self._home()
        if self.command == "GET":
            if path == sim.active_path:
                return self._catalog(query)
            if self._class == "users":
                return self._seller_items(int(USER_ITEMS_RE.match(path).group(1)), query)
            if self._class == "user":
                return self._user(int(USER_RE.match(path).group(1)))
            if self._class == "catalogs":
                return self._api(lambda: (200, sim.world.catalogs_nested()))
        if self._class == "item_page" and self.command in ("GET", "HEAD"):
            return self._item_page(int(ITEM_PAGE_RE.match(path).group(1)))
        if path.startswith("/api/") or path.startswith("/svc-"):
            return self._reply(404, {"code": 104, "message": "Not found",
                                     "message_code": "not_found"})
        return self._reply(404, NOT_FOUND_HTML, "text/html; charset=utf-8")

    def _home(self):
        sim = self.server.sim
        with sim.lock:
            token = sim.sessions.issue()
        lang = sim.world.lang
        cookies = [
            "access_token_web=%s; Path=/; HttpOnly; SameSite=Lax" % token,
            "refresh_token_web=%s; Path=/; HttpOnly; SameSite=Lax" % secrets.token_urlsafe(48),
            "anon_id=%s; Path=/; SameSite=Lax" % uuid.uuid4(),
            "datadome=%s; Max-Age=31536000; Path=/; SameSite=Lax" % secrets.token_urlsafe(96),
        ]
        self._reply(200, HOME_HTML.format(lang=lang, site=sim.args.site),
                    "text/html; charset=utf-8", [("Set-Cookie", c) for c in cookies])

    @staticmethod
    def _int(query, name, default):
        try:
            return int(query.get(name, [""])[0])
        except ValueError:
            return default

    @staticmethod
    def _price(query, name):
        """A price parameter in cents: None when absent, False when not an amount."""
        v = query.get(name, [""])[0].strip()
        if not v:
            return None
        m = re.fullmatch(r"(\d{1,9})(?:\.(\d{1,2}))?", v)
        if not m:
            return False
        return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))

    @staticmethod
    def _ids(values):
        ids = []
        for v in values:
            for part in v.split(","):
                part = part.strip()
                if part.isdigit():
                    ids.append(int(part))
        return ids

    # -- faults shared by every path class --

    def _fault_reply(self, fault):
        """Answer the request if the fault replaces the answer (True), or
        apply a delay (slow) and let it go on (False)."""
        kind = fault["kind"] if fault else None
        json_api = self._class in ("catalog", "users", "user", "catalogs")
        if kind == "429":
            hdrs = []
            if fault.get("retry_after") is not None:
                hdrs.append(("Retry-After", str(int(fault["retry_after"]))))
            self._reply(429, {"code": 429, "message": "Too Many Requests",
                              "message_code": "too_many_requests"}, headers=hdrs)
        elif kind in ("500", "503"):
            hdrs = []
            if kind == "503" and fault.get("retry_after") is not None:
                hdrs.append(("Retry-After", str(int(fault["retry_after"]))))
            self._reply(int(kind), "<html><body><h1>%s %s</h1></body></html>" % (
                kind, "Internal Server Error" if kind == "500" else "Service Unavailable"),
                "text/html; charset=utf-8", hdrs)
        elif kind == "403":
            self._forbidden(fault.get("style", "cloudflare"))
        elif kind == "404":
            if json_api:
                self._reply(404, {"code": 104, "message": "Not found", "message_code": "not_found"})
            elif self._class == "cdn":
                self._reply(404, CDN_404, "application/xml")
            else:
                self._reply(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        elif kind == "reset":
            self._reset()
        elif kind == "slow":
            time.sleep(float(fault.get("seconds", 1)))
            return False
        else:
            return False
        return True

    def _reset(self):
        """Drop the connection without an answer (TCP RST where possible)."""
        sim = self.server.sim
        with sim.lock:
            sim.stats.status(self._class, "reset")
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        if not sim.args.quiet:
            sys.stderr.write("vinted-sim: %s %s reset\n" % (self.command, self.path[:200]))

    def _send_faulted(self, fault, status, body, ctype="application/json; charset=utf-8", headers=()):
        """Send a normal answer, with a body fault (truncate, malformed) applied."""
        kind = fault["kind"] if fault else None
        if kind == "truncate":
            if fault.get("mode") == "length":
                return self._reply(status, body[:len(body) // 2], ctype, headers)
            return self._reply(status, body, ctype, headers, cut=("close", len(body) // 2))
        if kind == "reformat":
            body = self._reformat(fault["form"], body)
        if kind == "malformed":
            if self._class == "cdn":  # same length, not an image any more
                junk = (b"<html><body>Error</body></html>" * (len(body) // 31 + 1))[:len(body)]
                return self._reply(status, junk, ctype, headers)
            if self._class != "item_page":  # the page garbles its JSON-LD itself
                body = body[:len(body) // 3] + b',,}]"unterminated <html>'
        return self._reply(status, body, ctype, headers)

    @staticmethod
    def _decimal(text):
        """A served amount as a JSON number (12.5 for "12.5"), or None when the
        text is not a plain positive decimal (a --bad-every item's broken price)."""
        if not isinstance(text, str) or not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text):
            return None
        return float(text) if "." in text else int(text)

    def _reformat_item(self, form, it):
        """Rewrite one served item in a changed format; True if it was changed."""
        if not isinstance(it, dict) or "id" not in it:
            return False
        money = ("price", "service_fee", "total_item_price")
        objects = all(isinstance(it.get(k), dict) for k in money)
        if form == "price_string" and objects:
            code = it["price"].get("currency_code")
            for k in money:
                it[k] = it[k].get("amount")
            it["currency"] = code
        elif form == "price_number" and objects:
            values = [self._decimal(it[k].get("amount")) for k in money]
            if any(v is None for v in values):
                return False
            for k, v in zip(money, values):
                it[k]["amount"] = v
        elif form == "id_string" and isinstance(it["id"], int):
            it["id"] = str(it["id"])
        elif form == "price_cents" and isinstance(it.get("price"), dict):
            amount = it["price"].get("amount")
            if self._decimal(amount) is None:
                return False
            whole, _, frac = amount.partition(".")
            it["price"] = {"amount_cents": int(whole) * 100 + int((frac + "00")[:2]),
                           "currency_code": it["price"].get("currency_code")}
        elif form == "title_renamed" and "title" in it:
            it["name"] = it.pop("title")
        elif form == "photo_ts_ms" and isinstance((it.get("photo") or {}).get("high_resolution"), dict) \
                and isinstance(it["photo"]["high_resolution"].get("timestamp"), int):
            it["photo"]["high_resolution"]["timestamp"] *= 1000
        else:
            return False
        return True

    def _reformat(self, form, body):
        """The JSON answer with every listing in it rewritten in the changed format;
        the ids of the listings changed are recorded under the form."""
        sim = self.server.sim
        try:
            obj = json.loads(body)
        except ValueError:
            return body
        changed = [int(it["id"]) for it in obj.get("items") or [] if self._reformat_item(form, it)]
        with sim.lock:
            sim.faults.reformatted.setdefault(form, []).extend(changed)
        return self._json(obj)

    def _json(self, obj):
        sim = self.server.sim
        return serve_bytes(json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                                      sort_keys=sim.generation == "svc").encode("utf-8"))

    def _api(self, build):
        """A cookie-session JSON endpoint of the current class: fault, session
        check, then build() (called under the lock) -> (status, object)."""
        sim = self.server.sim
        token = self._cookies().get("access_token_web")
        with sim.lock:
            fault = sim.faults.take(self._class, sim.sessions.valid(token))
        if self._fault_reply(fault):
            return
        kind = fault["kind"] if fault else None
        with sim.lock:
            if kind == "expire_session":
                sim.sessions.revoke(token)
            authed = sim.sessions.valid(token)
            if authed:
                status, obj = build()
        if not authed:
            return self._reply(401, {"code": 100, "message": "Token de autenticação inválido",
                                     "message_code": "invalid_authentication_token",
                                     "errors": [], "payload": None})
        return self._send_faulted(fault, status, self._json(obj))

    def _catalog(self, query):
        sim = self.server.sim
        page = max(1, self._int(query, "page", 1))
        per_page = self._int(query, "per_page", MAX_PER_PAGE)
        per_page = MAX_PER_PAGE if per_page <= 0 else min(per_page, MAX_PER_PAGE)
        if sim.generation == "v2":
            raw = query.get("catalog_ids", []) + query.get("catalog_ids[]", [])
        else:  # svc ignores catalog_ids; parse_qs has already decoded %5B %5D
            raw = query.get("attribute_ids[catalog]", []) + query.get("attribute_ids[catalog][]", [])
        catalog_ids = self._ids(raw) if raw else None
        band = [self._price(query, k) for k in ("price_from", "price_to")]
        if any(b is False for b in band):
            return self._reply(400, {"code": 99, "message": "price_from/price_to: a decimal amount",
                                     "message_code": "validation_error"})
        # v2 pins the result set to pagination.time when asked (svc-catalogue takes no time)
        at = self._int(query, "time", 0) if sim.generation == "v2" else 0
        with sim.lock:
            sim.stats.max_page = max(sim.stats.max_page, page)
            sim.stats.last_api = {"path": self.path, "headers": dict(self.headers.items())}
            sim.stats.banded += band != [None, None]
            sim.stats.pinned += at > 0

        def build():
            items, total, pages = sim.world.search(catalog_ids, page, per_page, band[0], band[1], at or None)
            render = sim.world.render_v2 if sim.generation == "v2" else sim.world.render_svc
            return 200, {"items": [render(r) for r in items],
                         "pagination": {"current_page": page, "total_pages": pages,
                                        "total_entries": total, "per_page": per_page,
                                        "time": at or sim.world.clock},
                         "search_tracking_params": {"search_correlation_id": str(uuid.uuid4()),
                                                    "search_session_id": str(uuid.uuid4())},
                         "code": 0}
        return self._api(build)

    def _not_found_json(self):
        return 404, {"code": 104, "message": "Not found", "message_code": "not_found"}

    def _seller_items(self, uid, query):
        sim = self.server.sim
        page = max(1, self._int(query, "page", 1))
        per_page = self._int(query, "per_page", USER_PER_PAGE)
        per_page = USER_PER_PAGE if per_page <= 0 else min(per_page, MAX_PER_PAGE)

        def build():
            if uid not in sim.world.user_by_id:
                return self._not_found_json()
            items, total, pages = sim.world.seller_items(uid, page, per_page)
            return 200, {"items": [sim.world.render_user_item(r) for r in items],
                         "pagination": {"current_page": page, "total_pages": pages,
                                        "total_entries": total, "per_page": per_page},
                         "code": 0}
        return self._api(build)

    def _user(self, uid):
        sim = self.server.sim
        with sim.lock:
            wait = sim.rate_check()
        if wait is not None:
            return self._reply(429, {"code": 429, "message": "Too Many Requests",
                                     "message_code": "too_many_requests"},
                               headers=[("Retry-After", str(wait))])

        def build():
            u = sim.world.user_by_id.get(uid)
            if u is None:
                return self._not_found_json()
            return 200, dict(sim.world.render_user(u), code=0)
        return self._api(build)

    def _item_page(self, item_id):
        sim = self.server.sim
        with sim.lock:
            fault = sim.faults.take("item_page")
        if self._fault_reply(fault):
            return
        broken = bool(fault) and fault["kind"] == "malformed"
        with sim.lock:
            rec = sim.world.item_by_id(item_id)
            page = None if rec is None or rec["removed"] else sim.world.item_page(rec, broken)
        if page is None:
            return self._reply(404, NOT_FOUND_HTML, "text/html; charset=utf-8")
        return self._send_faulted(fault, 200, serve_bytes(page.encode("utf-8")), "text/html; charset=utf-8")

    def _cdn(self, path, query):
        sim = self.server.sim
        with sim.lock:
            fault = sim.faults.take("cdn")
        if self._fault_reply(fault):
            return
        m = CDN_RE.match(path)
        if m:
            h, size, ts, ext = m.group(1), m.group(2), int(m.group(3)), m.group(4)
        else:
            m = CDN_FULL_RE.match(path)
            if not m:
                return self._reply(404, CDN_404, "application/xml")
            h, size, ts, ext = m.group(1), "tc", int(m.group(2)), m.group(3)
        if query.get("s", [""])[0] != sig(h, size, ts):
            return self._reply(403, CDN_403, "application/xml")
        with sim.lock:
            hit = sim.world.cdn_lookup(h, size, ts)
        if hit is None or ext != "webp":  # every sim photo is a .webp
            return self._reply(404, CDN_404, "application/xml")
        key, w, hh, color = hit
        data, digest = sim.image(key, w, hh, color)
        etag = '"%s"' % digest[:32]
        headers = [("ETag", etag), ("Cache-Control", "public, max-age=31536000, immutable"),
                   ("Last-Modified", email.utils.formatdate(ts, usegmt=True)),
                   ("Access-Control-Allow-Origin", "*")]
        if self.headers.get("If-None-Match") == etag:
            return self._reply(304, b"", "image/webp", headers)
        return self._send_faulted(fault, 200, data, "image/webp", headers)

    def _forbidden(self, style):
        sim = self.server.sim
        if style == "json":
            return self._reply(403, {"code": 106, "message": "Access denied",
                                     "message_code": "access_denied", "payload": None})
        if style == "datadome":
            return self._reply(403, DATADOME_HTML.format(site=sim.args.site, cid=secrets.token_hex(16)),
                               "text/html; charset=utf-8",
                               [("X-DataDome", "protected"),
                                ("Set-Cookie", "datadome=%s; Max-Age=31536000; Path=/" % secrets.token_urlsafe(64))])
        ray = secrets.token_hex(8)
        return self._reply(403, CLOUDFLARE_HTML.format(ray=ray), "text/html; charset=UTF-8",
                           [("Server", "cloudflare"), ("CF-RAY", ray + "-LIS"),
                            ("cf-mitigated", "challenge")])
