"""sim_state.py - what the request threads share: sessions and their cookies, injected faults,
request statistics, and the Sim that holds the world behind one lock."""

import base64
import collections
import hashlib
import json
import math
import os
import secrets
import sys
import threading
import time

from sim_facts import (
    CDN_HOST, FAULT_KINDS, FAULT_NOT_FOR, FAULT_PATHS, PHOTO_SIZES, REFORMAT_FORMS,
    SESSION_FAULTS, SVC_PATH, USER_RATE_WINDOW, V2_PATH, webp_image)
from sim_world import World


# --------------------------------------------------------------------------
# Sessions, faults, statistics (shared by the request threads)


class Sessions:
    def __init__(self, ttl):
        self.ttl = ttl
        self.tokens = {}  # access token -> monotonic expiry
        self.issued = 0

    def issue(self):
        now = int(time.time())
        head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
        body = json.dumps({"iat": now, "exp": now + self.ttl, "sid": secrets.token_hex(8),
                           "scope": "public"}).encode()
        token = b".".join([head, base64.urlsafe_b64encode(body).rstrip(b"="),
                           base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=")]).decode()
        self.tokens[token] = time.monotonic() + self.ttl
        self.issued += 1
        return token

    def valid(self, token):
        exp = self.tokens.get(token) if token else None
        if exp is None:
            return False
        if time.monotonic() >= exp:
            del self.tokens[token]
            return False
        return True

    def revoke(self, token):
        self.tokens.pop(token, None)


class Faults:
    def __init__(self):
        self.queue = []  # [{"kind":..., "path":..., "count": remaining, ...}]
        self.consumed = {}           # kind -> count (all paths)
        self.consumed_by_path = {}   # "path:kind" -> count
        self.reformatted = {}        # reformat form -> [item ids served in that form]

    @staticmethod
    def check(spec):
        """Validated copy of one fault, or raise ValueError naming the problem."""
        if not isinstance(spec, dict):
            raise ValueError("fault must be an object")
        kind = str(spec.get("kind"))
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (known: %s)" % (kind, ", ".join(sorted(FAULT_KINDS))))
        path = spec.get("path", "catalog")
        if path not in FAULT_PATHS:
            raise ValueError("fault %s: path must be one of %s, got %r" % (kind, ", ".join(FAULT_PATHS), path))
        if kind in FAULT_NOT_FOR.get(path, ()):
            raise ValueError("fault %s: means nothing for path %s (no session there)" % (kind, path))
        out = dict(spec, kind=kind, path=path)
        for key, default in (("count", 1), ("retry_after", None), ("seconds", 1), ("duration", None)):
            val = out.get(key, default)
            if val is not None and (not isinstance(val, (int, float)) or isinstance(val, bool) or val < 0):
                raise ValueError("fault %s: %s must be a non-negative number" % (kind, key))
            out[key] = val
        out["count"] = int(out["count"])
        style = out.setdefault("style", "cloudflare")
        if style not in ("cloudflare", "datadome", "json"):
            raise ValueError("fault 403: style must be cloudflare, datadome or json")
        mode = out.setdefault("mode", "close")
        if mode not in ("close", "length"):
            raise ValueError("fault truncate: mode must be close or length")
        if kind == "reformat" and out.get("form") not in REFORMAT_FORMS:
            raise ValueError("fault reformat: form must be one of %s, got %r" % (
                ", ".join(REFORMAT_FORMS), out.get("form")))
        if out["duration"] is not None and kind in ("slow", "expire_session"):
            raise ValueError("fault %s: takes a count, not a duration" % kind)
        return out

    @staticmethod
    def public(fault):
        """A queued fault as GET /_sim/faults shows it (without internal keys)."""
        return {k: v for k, v in fault.items() if not k.startswith("_")}

    def take(self, path, authed=True):
        """The fault for this request of path class `path`, or None: the first
        queued fault for that class (each class is its own FIFO). Session-
        dependent faults wait for a request that has a valid session."""
        self.queue = [f for f in self.queue if f["count"] > 0]
        now = time.monotonic()
        while True:
            head = next((f for f in self.queue if f["path"] == path), None)
            if head is None:
                return None
            # a fault with a duration hits every request of its class from the first
            # one it meets until the duration has passed (its count is not used)
            if head["duration"] is None or head.get("_until") is None or now < head["_until"]:
                break
            self.queue.remove(head)
        if head["kind"] in SESSION_FAULTS and not authed:
            return None
        if head["duration"] is not None:
            head.setdefault("_until", now + head["duration"])
        else:
            head["count"] -= 1
            if head["count"] <= 0:
                self.queue.remove(head)
        self.consumed[head["kind"]] = self.consumed.get(head["kind"], 0) + 1
        key = "%s:%s" % (path, head["kind"])
        self.consumed_by_path[key] = self.consumed_by_path.get(key, 0) + 1
        return dict(head)


class Stats:
    def __init__(self):
        self.reset()

    def reset(self):
        self.requests = 0
        self.home = 0
        self.api = 0
        self.by_status = {}
        self.by_path = {}
        self.max_page = 0
        self.last_api = None
        self.cdn = 0
        self.cdn_bytes = 0
        self.cdn_by_status = {}
        self.by_class = {}  # class -> {"requests": n, "by_status": {...}}
        self.banded = 0     # catalog requests narrowed to a price band
        self.pinned = 0     # catalog requests pinned with time= (v2)

    def count(self, cls, path):
        """One public request of class cls (catalog, users, user, item_page,
        cdn, home, other). CDN requests are kept out of requests/by_path."""
        c = self.by_class.setdefault(cls, {"requests": 0, "by_status": {}})
        c["requests"] += 1
        if cls == "cdn":
            self.cdn += 1
            return
        self.requests += 1
        key = {"users": "/api/v2/users/{id}/items", "user": "/api/v2/users/{id}",
               "item_page": "/items/{id}"}.get(cls, path)
        self.by_path[key] = self.by_path.get(key, 0) + 1
        if cls == "catalog":
            self.api += 1
        elif cls == "home":
            self.home += 1

    def status(self, cls, status):
        key = str(status)
        target = self.cdn_by_status if cls == "cdn" else self.by_status
        target[key] = target.get(key, 0) + 1
        if cls in self.by_class:
            c = self.by_class[cls]["by_status"]
            c[key] = c.get(key, 0) + 1

    def snapshot(self):
        return {"requests": self.requests, "home": self.home, "api": self.api,
                "by_status": dict(self.by_status), "by_path": dict(self.by_path),
                "max_page_requested": self.max_page, "last_api_request": self.last_api,
                "cdn": self.cdn, "cdn_bytes": self.cdn_bytes,
                "cdn_by_status": dict(self.cdn_by_status),
                "by_class": json.loads(json.dumps(self.by_class)),
                "banded": self.banded, "pinned": self.pinned}


class Sim:
    """Everything a request handler needs, behind one lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.generation = args.generation
        self.world = World(args.seed, args.catalogs, args.initial, args.site,
                           args.bad_every, args.legacy_price_every, args.epoch)
        self.sessions = Sessions(args.token_ttl)
        self.faults = Faults()
        self.stats = Stats()
        self.active_path = V2_PATH if self.generation == "v2" else SVC_PATH
        self.user_rate = args.user_rate
        self.user_calls = collections.deque()  # monotonic times of accepted profile calls
        self.images = collections.OrderedDict()  # small LRU: key -> image bytes
        self.image_meta = {}  # key -> (size_bytes, sha256 hex), for truth and ETag
        self.market = None  # --market: tests/sim/market.py's world, replayed at --market-speed
        self.market_running = False
        self.market_t = 0.0     # market time reached (s)
        self.market_events = 0
        if args.market:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import market as market_mod
            self.market = market_mod.Market(args.market_seed, n_catalogs=args.market, scale=args.market_scale)
            self.world.children = dict(self.market.children)
            self.world.parent_of = dict(self.market.parent_of)
            self.market_t = args.market_start_day * market_mod.DAY
            self.market_running = True
        self.blocked_proxies = set()  # --proxies: the proxy ports (by index) whose requests get 403
        self.by_proxy = collections.Counter()  # requests per egress: "direct" or the proxy index
        self.proxy_ports = []

    def market_step(self, dt):
        """Advance the market by dt market seconds: its events become listings."""
        t0, t1 = self.market_t, self.market_t + dt
        for t, kind, leaf in self.market.events(t0, t1):
            self.world.market_event(kind, leaf, t)
            self.market_events += 1
        self.market_t = t1

    def rate_check(self):
        """None if a profile call may go ahead (and counts it), else the
        Retry-After seconds. More than user_rate calls in 10 s -> 429."""
        if self.user_rate <= 0:
            return None
        now = time.monotonic()
        while self.user_calls and now - self.user_calls[0] >= USER_RATE_WINDOW:
            self.user_calls.popleft()
        if len(self.user_calls) >= self.user_rate:
            return max(1, math.ceil(self.user_calls[0] + USER_RATE_WINDOW - now))
        self.user_calls.append(now)
        return None

    def image(self, key, width, height, color):
        """(bytes, sha256 hex) of one image, built outside the lock."""
        with self.lock:
            data = self.images.get(key)
            if data is not None:
                self.images.move_to_end(key)
        if data is None:
            data = webp_image(key, width, height, color)
            with self.lock:
                self.images[key] = data
                while len(self.images) > 64:
                    self.images.popitem(last=False)
        return data, self.meta(key, data)

    def meta(self, key, data):
        with self.lock:
            m = self.image_meta.get(key)
        if m is None:
            m = (len(data), hashlib.sha256(data).hexdigest())
            with self.lock:
                self.image_meta[key] = m
        return m[1]

    def image_truth(self, key, width, height, color):
        """(size_bytes, sha256) without keeping the bytes."""
        with self.lock:
            m = self.image_meta.get(key)
        if m is None:
            data = webp_image(key, width, height, color)
            m = (len(data), hashlib.sha256(data).hexdigest())
            with self.lock:
                self.image_meta[key] = m
        return m

    def config(self):
        a = self.args
        return {"seed": a.seed, "catalogs": a.catalogs, "initial": a.initial,
                "generation": a.generation, "site": a.site,
                "currency": self.world.currency, "bad_every": a.bad_every,
                "legacy_price_every": a.legacy_price_every,
                "token_ttl": a.token_ttl, "epoch": a.epoch,
                "catalog_path": self.active_path, "user_rate": self.user_rate,
                "user_rate_window_s": USER_RATE_WINDOW,
                "photo_sizes": sorted(PHOTO_SIZES), "cdn_host": CDN_HOST}
