#!/usr/bin/env python3
"""vinted_sim.py - a simulated Vinted catalog search for the pipeline's tests.

Serves the two catalog-search generations described in
shared/vinted-api-notes.md (v2: /api/v2/catalog/items on the www host;
svc: /svc-catalogue/items on the api host) from one deterministic world
built from a seed, plus the home page that hands out session cookies.
One server answers for both hosts. Tests steer it through /_sim/ (new
listings, bumps, injected faults) and read back what a correct pipeline
must have stored (/_sim/truth). See README.md beside this file.

Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import unicodedata
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# --------------------------------------------------------------------------
# Facts about sites (from vinted-api-notes.md)

SITES = ["pt", "fr", "de", "it", "es", "nl", "pl", "be", "at", "lu", "co.uk",
         "cz", "sk", "lt", "se", "dk", "ro", "hu", "hr", "fi", "ie", "si",
         "ee", "lv", "gr", "com"]
SITE_CURRENCY = {"co.uk": "GBP", "pl": "PLN", "cz": "CZK", "se": "SEK",
                 "dk": "DKK", "ro": "RON", "hu": "HUF", "com": "USD"}
# rough price scale of a currency against the euro, to keep prices plausible
CURRENCY_SCALE = {"EUR": 1, "GBP": 1, "USD": 1, "PLN": 4, "CZK": 25,
                  "SEK": 11, "DKK": 7, "RON": 5, "HUF": 400}
SITE_LANG = {"pt": "pt", "pl": "pl", "fr": "fr", "be": "fr", "lu": "fr",
             "de": "de", "at": "de"}
CONDITIONS = {
    "pt": ["Novo com etiquetas", "Novo sem etiquetas", "Muito bom", "Bom",
           "Satisfatório"],
    "pl": ["Nowy z metkami", "Nowy bez metki", "Bardzo dobry", "Dobry",
           "Zadowalający"],
    "fr": ["Neuf avec étiquette", "Neuf sans étiquette", "Très bon état",
           "Bon état", "Satisfaisant"],
    "de": ["Neu mit Etikett", "Neu ohne Etikett", "Sehr gut", "Gut",
           "Zufriedenstellend"],
    "en": ["New with tags", "New without tags", "Very good", "Good",
           "Satisfactory"],
}
CONDITION_WEIGHTS = [10, 15, 40, 28, 7]

# --------------------------------------------------------------------------
# Material for generated listings

SIZES = ["M", "S", "L", "XL", "XS", "XXS", "XXL", "EU 42", "EU 38", "42",
         "38", "W32 | L34", "W30", "W28 | L30", "10 anos / 140 cm",
         "6 anos / 116 cm", "3-6 meses", "Tamanho único", "36 / 38", "40"]
SHOE_SIZES = ["EU 42", "EU 38", "42", "38", "40", "44", "36", "EU 45"]
BRANDS = ["Zara", "H&M", "Nike", "adidas", "Levi's", "Pull&Bear", "Mango",
          "Stradivarius", "Bershka", "Tommy Hilfiger", "Salsa", "Primark",
          "New Balance", "Vans", "Massimo Dutti", "Lacoste", "Ralph Lauren",
          "Converse", "Shein", "Springfield"]
NOUNS = {
    221: ["T-shirt", "Top", "Camiseta", "Blusa de alças", "T-shirt oversize"],
    1242: ["Ténis", "Sapatilhas", "Ténis de corrida", "Sneakers"],
    2320: ["Camisola", "Sweater", "Pullover"],
    1811: ["Livro", "Romance", "Livro de receitas"],
}
DEFAULT_NOUNS = ["Artigo", "Peça", "Conjunto", "Acessório"]
ADJECTIVES = ["preta", "branca", "azul", "vintage", "básica", "estampada",
              "às riscas", "nova", "de algodão", "cor-de-rosa", "verde"]
# Titles that tend to break parsers, COPY encoders and printf-style loggers.
AWKWARD_TITLES = [
    'Camisola "vintage" Zara, tamanho M',
    "T-shirt com bordado 🌸✨",
    "Ténis Nike Air Max 90 – edição ☀️ limitada",
    "Tab\tseparated\ttitle",
    "Back\\slash \\N and C:\\path\\file",
    "Linha 1\nLinha 2",
    "O'Neill hoodie; 100% algodão %s %d %n",
    "Ação, coração & pão — ñ ü ß ø å",
    "日本のTシャツ 👕",
    '{"json": "in a title"}',
    "<b>html</b> &amp; entities",
    "Comma, separated, words, everywhere,",
    "Semi;colon|pipe'quote`tick",
    "Vestido " + "muito bonito e confortável " * 10 + "(longo)",
    "Zero\u200bwidth joiner and emoji 👨‍👩‍👧",
]
BAD_RULES = ["id_missing", "price_missing", "price_invalid",
             "price_not_positive", "currency_unknown", "title_missing"]
FAULT_KINDS = {"429", "500", "403", "truncate", "malformed",
               "expire_session", "slow"}
# faults that need a valid session to mean anything; not consumed without one
SESSION_FAULTS = {"truncate", "malformed", "expire_session"}

V2_PATH = "/api/v2/catalog/items"
SVC_PATH = "/svc-catalogue/items"
MAX_PER_PAGE = 96
MAX_RESULTS = 960
DEFAULT_EPOCH = 1790000000  # 2026-09-21T12:53:20Z: fixed so truth is reproducible


def money_str(cents):
    """Vinted's decimal string: 2000 -> "20.0", 750 -> "7.5", 85 -> "0.85"."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    whole, frac = divmod(cents, 100)
    if frac % 10 == 0:
        return "%s%d.%d" % (sign, whole, frac // 10)
    return "%s%d.%02d" % (sign, whole, frac)


def money2(cents):
    """Always two decimals: 2000 -> "20.00"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return "%s%d.%02d" % (sign, whole, frac)


def slugify(title):
    if not title:
        return ""
    text = unicodedata.normalize("NFKD", title)
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:60].rstrip("-")


def sig(*parts):
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


# --------------------------------------------------------------------------
# The world: every listing ever created, deterministic from the seed


class World:
    """All listings, users and the simulated clock. Only tick() and the
    constructor draw from the seeded RNG, so the same seed and the same
    sequence of ticks always give the same items."""

    def __init__(self, seed, catalogs, initial, site, bad_every=0,
                 legacy_every=0, epoch=DEFAULT_EPOCH):
        self.rng = random.Random(seed)
        self.catalogs = list(catalogs)
        self.site = site
        self.www = "https://www.vinted.%s" % site
        self.currency = SITE_CURRENCY.get(site, "EUR")
        self.scale = CURRENCY_SCALE.get(self.currency, 1)
        self.lang = SITE_LANG.get(site, "en")
        self.conditions = CONDITIONS[self.lang]
        self.bad_every = bad_every
        self.legacy_every = legacy_every
        self.clock = epoch
        self.next_id = 7000000000 + self.rng.randrange(1000000)
        self.created = 0  # items created so far (1-based index of the last)
        self.bad_made = 0
        self.items = []  # in creation order, so ids ascend
        self.by_catalog = {c: [] for c in self.catalogs}
        self.users = [self._new_user(i) for i in range(60)]
        order = [c for c in self.catalogs for _ in range(initial)]
        self.rng.shuffle(order)
        for cat in order:
            self.clock += self.rng.randint(5, 90)
            self._new_item(cat)

    def _new_user(self, i):
        rng = self.rng
        first = rng.choice(["maria", "joao", "ana", "rita", "pedro", "ines",
                            "tiago", "sofia", "beatriz", "miguel"])
        login = first + rng.choice(["", "_", ".", "-"]) + \
            rng.choice(["silva", "costa", "ferreira", "santos", ""]) + \
            (str(rng.randint(1, 99)) if rng.random() < 0.6 else "")
        business = rng.random() < 0.08
        if business:
            login = "loja_" + login
        uid = rng.randint(1000000, 290000000)
        photo = None
        if rng.random() < 0.7:
            h = "01_%05x_%s" % (rng.randrange(1 << 20), self._token(24))
            ts = self.clock - rng.randint(86400, 86400 * 900)
            photo = {"hash": h, "ts": ts, "id": rng.randint(10**8, 10**9)}
        return {"id": uid, "login": login, "business": business,
                "photo": photo, "n": i}

    def _token(self, n):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def _price_cents(self):
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            cents = rng.randint(1, 40) * 100            # "20.0"
        elif r < 0.70:
            cents = rng.randint(1, 40) * 100 + 50       # "7.5"
        elif r < 0.95:
            cents = rng.randint(100, 9999)              # "12.34", "3.9"
        else:
            cents = rng.randint(10000, 250000)          # "1234.99"
        return cents * self.scale

    def _new_item(self, cat):
        rng = self.rng
        self.created += 1
        idx = self.created
        self.next_id += rng.randint(1, 40)
        iid = self.next_id
        r = rng.random()
        brand_mode = "absent" if r < 0.05 else "empty" if r < 0.10 else "set"
        brand = rng.choice(BRANDS) if brand_mode == "set" else None
        if rng.random() < 0.15:
            title = rng.choice(AWKWARD_TITLES)
        else:
            title = "%s %s" % (rng.choice(NOUNS.get(cat, DEFAULT_NOUNS)),
                               rng.choice(ADJECTIVES))
            if brand and rng.random() < 0.5:
                title += " " + brand
        sizes = SHOE_SIZES if cat == 1242 and rng.random() < 0.8 else SIZES
        size = rng.choice(sizes) if rng.random() >= 0.08 else ""
        condition = rng.choices(self.conditions, CONDITION_WEIGHTS)[0]
        price = self._price_cents()
        fee = 70 * self.scale + (price * 5 + 50) // 100
        user = rng.choice(self.users)
        photo = {
            "id": rng.randint(20000000000, 39999999999),
            "hash": "02_%05x_%s" % (rng.randrange(1 << 20), self._token(24)),
            "width": rng.choice([600, 633, 800]),
            "height": 800,
            "color": "#%06X" % rng.randrange(1 << 24),
            "extra": rng.randint(0, 4),  # further photos (svc photos[])
        }
        invalid = None
        if self.bad_every and idx % self.bad_every == 0:
            invalid = BAD_RULES[self.bad_made % len(BAD_RULES)]
            self.bad_made += 1
        rec = {
            "id": iid, "catalog_id": cat, "index": idx, "title": title,
            "price": price, "fee": fee, "brand": brand,
            "brand_mode": brand_mode, "size": size, "condition": condition,
            "user": user, "photo": photo,
            "favourite_count": int(rng.expovariate(1 / 6.0)),
            "view_count": int(rng.expovariate(1 / 40.0)) if rng.random() < 0.6 else 0,
            "created_at": self.clock, "activity": self.clock, "bumps": 0,
            "legacy": bool(self.legacy_every and idx % self.legacy_every == 0),
            "invalid": invalid,
        }
        self.items.append(rec)
        self.by_catalog[cat].append(rec)
        return rec

    def tick(self, new, bumps):
        """Each catalog gets `new` new items and `bumps` pushed-up older ones,
        interleaved in time."""
        events = []
        for cat in self.catalogs:
            events += [("new", cat)] * new
            older = self.by_catalog[cat]
            k = min(bumps, len(older))
            events += [("bump", rec) for rec in self.rng.sample(older, k)]
        self.rng.shuffle(events)
        created, bumped = [], []
        for kind, what in events:
            self.clock += self.rng.randint(1, 20)
            if kind == "new":
                created.append(self._new_item(what)["id"])
            else:
                what["activity"] = self.clock
                what["bumps"] += 1
                bumped.append(what["id"])
        return {"max_id": self.next_id, "created": created, "bumped": bumped,
                "sim_time": self.clock}

    def search(self, catalog_ids, page, per_page):
        """(items on the page, total_entries, total_pages) for newest_first."""
        if catalog_ids is None:
            pool = self.items
        else:
            pool = [r for c in catalog_ids for r in self.by_catalog.get(c, [])]
        pool = sorted(pool, key=lambda r: (r["activity"], r["id"]), reverse=True)
        total = min(len(pool), MAX_RESULTS)
        pages = (total + per_page - 1) // per_page
        start = (page - 1) * per_page
        end = min(start + per_page, MAX_RESULTS)
        return (pool[start:end] if start < end else []), total, pages

    # --- rendering --------------------------------------------------------

    def _path(self, rec):
        slug = slugify(rec["title"])
        return "/items/%d-%s" % (rec["id"], slug) if slug else "/items/%d" % rec["id"]

    def _img(self, h, size, ts):
        return "https://images1.vinted.net/t/%s/%s/%d.webp?s=%s" % (
            h, size, ts, sig(h, size, ts))

    def _full(self, h, ts):
        return "https://images1.vinted.net/tc/%s/%d.webp?s=%s" % (h, ts, sig(h, "tc", ts))

    def _photo(self, rec, n, with_timestamp):
        p = rec["photo"]
        ts = rec["created_at"] + n * 3  # later photos uploaded a bit later
        h = p["hash"] if n == 0 else "%s%d" % (p["hash"][:-1], n)
        thumbs = [{"type": "thumb%dx%d" % (w, hh), "url": self._img(h, "%dx%d" % (w, hh), ts),
                   "width": w, "height": hh, "original_size": None}
                  for (w, hh) in ((70, 100), (150, 210), (310, 430))]
        hr = {"id": h, "timestamp": ts, "orientation": None}
        if not with_timestamp:
            del hr["timestamp"]
        return {
            "id": p["id"] + n, "image_no": n + 1, "width": p["width"],
            "height": p["height"], "dominant_color": p["color"],
            "dominant_color_opaque": p["color"], "url": self._img(h, "f800", ts),
            "is_main": n == 0, "thumbnails": thumbs, "high_resolution": hr,
            "is_suspicious": False, "full_size_url": self._full(h, ts),
            "is_hidden": False, "extra": {},
        }

    def _money(self, rec):
        """Served price fields, with the item's bad-item rule applied."""
        cur = "XYZ" if rec["invalid"] == "currency_unknown" else self.currency
        amount = money_str(rec["price"])
        if rec["invalid"] == "price_invalid":
            amount = "abc"
        elif rec["invalid"] == "price_not_positive":
            amount = "-" + amount
        fee, total = money_str(rec["fee"]), money_str(rec["price"] + rec["fee"])
        if rec["legacy"]:
            out = {"price": amount, "currency": cur, "service_fee": fee,
                   "total_item_price": total}
        else:
            out = {"price": {"amount": amount, "currency_code": cur},
                   "service_fee": {"amount": fee, "currency_code": cur},
                   "total_item_price": {"amount": total, "currency_code": cur}}
        if rec["invalid"] == "price_missing":
            del out["price"]
        return out

    def _item_box(self, rec):
        brand = rec["brand"] or ""
        second = " · ".join(x for x in (rec["size"], rec["condition"]) if x)
        label = "%s, marca: %s, estado: %s, tamanho: %s, %s %s" % (
            rec["title"] or "", brand, rec["condition"], rec["size"],
            money2(rec["price"]), self.currency)
        box = {"first_line": brand, "second_line": second, "exposures": [],
               "accessibility_label": label, "item_id": rec["id"]}
        if rec["invalid"] == "id_missing":
            del box["item_id"]
        return box

    def _common(self, rec):
        it = {"id": rec["id"], "title": rec["title"],
              "favourite_count": rec["favourite_count"],
              "view_count": rec["view_count"], "promoted": rec["bumps"] > 0,
              "is_favourite": False, "conversion": None,
              "content_source": "search", "item_box": self._item_box(rec),
              "search_tracking_params": {"score": None, "matched_queries": []}}
        it.update(self._money(rec))
        if rec["invalid"] == "id_missing":
            del it["id"]
        if rec["invalid"] == "title_missing":
            del it["title"]
        return it

    def render_v2(self, rec):
        it = self._common(rec)
        u = rec["user"]
        uphoto = None
        if u["photo"]:
            up = u["photo"]
            uphoto = {"id": up["id"], "width": 600, "height": 800,
                      "url": self._img(up["hash"], "f800", up["ts"]),
                      "high_resolution": {"id": up["hash"], "timestamp": up["ts"],
                                          "orientation": None},
                      "full_size_url": self._full(up["hash"], up["ts"])}
        path = self._path(rec)
        it.update({
            "is_visible": True, "path": path, "url": self.www + path,
            "user": {"id": u["id"], "login": u["login"],
                     "profile_url": "%s/member/%d-%s" % (self.www, u["id"], u["login"]),
                     "photo": uphoto, "business": u["business"]},
            "photo": self._photo(rec, 0, True), "size_title": rec["size"],
            "status": rec["condition"],
        })
        if rec["brand_mode"] != "absent":
            it["brand_title"] = rec["brand"] or ""
        return it

    def render_svc(self, rec):
        it = self._common(rec)
        u = rec["user"]
        it.update({
            "url": self._path(rec),
            "user": {"business": u["business"], "id": u["id"], "login": u["login"]},
            "photos": [self._photo(rec, n, False) for n in range(1 + rec["photo"]["extra"])],
        })
        return it

    def truth(self, generation):
        out = []
        for rec in self.items:
            bad = rec["invalid"]
            price = money2(rec["price"])
            if bad == "price_missing":
                price = None
            elif bad == "price_invalid":
                price = "abc"
            elif bad == "price_not_positive":
                price = "-" + price
            out.append({
                "item_id": rec["id"], "catalog_id": rec["catalog_id"],
                "title": None if bad == "title_missing" else rec["title"],
                "price": price,
                "currency": "XYZ" if bad == "currency_unknown" else self.currency,
                "service_fee": money2(rec["fee"]),
                "total_price": money2(rec["price"] + rec["fee"]),
                "brand": rec["brand"] or None,
                "size_title": rec["size"] or None,
                "condition": rec["condition"],
                "user_id": rec["user"]["id"], "user_login": rec["user"]["login"],
                "url": self.www + self._path(rec),
                "photo_url": self._img(rec["photo"]["hash"], "f800", rec["created_at"]),
                "favourite_count": rec["favourite_count"],
                "view_count": rec["view_count"],
                "created_at": rec["created_at"] if generation == "v2" else None,
                "invalid": bad,
            })
        return out


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
        self.queue = []  # [{"kind":..., "count": remaining, ...}]
        self.consumed = {}

    @staticmethod
    def check(spec):
        """Validated copy of one fault, or raise ValueError naming the problem."""
        if not isinstance(spec, dict):
            raise ValueError("fault must be an object")
        kind = str(spec.get("kind"))
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (known: %s)" % (kind, ", ".join(sorted(FAULT_KINDS))))
        out = dict(spec, kind=kind)
        for key, default in (("count", 1), ("retry_after", None), ("seconds", 1)):
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
        return out

    def take(self, authed):
        """The fault for this catalog request, or None. Session-dependent
        faults wait for a request that has a valid session."""
        while self.queue and self.queue[0]["count"] <= 0:
            self.queue.pop(0)
        if not self.queue:
            return None
        head = self.queue[0]
        if head["kind"] in SESSION_FAULTS and not authed:
            return None
        head["count"] -= 1
        if head["count"] <= 0:
            self.queue.pop(0)
        self.consumed[head["kind"]] = self.consumed.get(head["kind"], 0) + 1
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

    def snapshot(self):
        return {"requests": self.requests, "home": self.home, "api": self.api,
                "by_status": dict(self.by_status), "by_path": dict(self.by_path),
                "max_page_requested": self.max_page, "last_api_request": self.last_api}


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

    def config(self):
        a = self.args
        return {"seed": a.seed, "catalogs": a.catalogs, "initial": a.initial,
                "generation": a.generation, "site": a.site,
                "currency": self.world.currency, "bad_every": a.bad_every,
                "legacy_price_every": a.legacy_price_every,
                "token_ttl": a.token_ttl, "epoch": a.epoch,
                "catalog_path": self.active_path}


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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vinted-sim/1"

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
                key = str(status)
                sim.stats.by_status[key] = sim.stats.by_status.get(key, 0) + 1
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

    def _public(self, path, query):
        sim = self.server.sim
        with sim.lock:
            sim.stats.requests += 1
            sim.stats.by_path[path] = sim.stats.by_path.get(path, 0) + 1
            if path in (V2_PATH, SVC_PATH):
                sim.stats.api += 1
            elif path == "/":
                sim.stats.home += 1
        if not self.headers.get("User-Agent"):
            return self._reply(403, FORBIDDEN_UA_HTML, "text/html; charset=utf-8")
        if path == "/" and self.command in ("GET", "HEAD"):
            return self._home()
        if path == sim.active_path and self.command == "GET":
            return self._catalog(query)
        if path.startswith("/api/") or path.startswith("/svc-"):
            return self._reply(404, {"code": 104, "message": "Not found",
                                     "message_code": "not_found"})
        return self._reply(404, "<!DOCTYPE html><title>404</title><h1>Página não encontrada</h1>",
                           "text/html; charset=utf-8")

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
    def _ids(values):
        ids = []
        for v in values:
            for part in v.split(","):
                part = part.strip()
                if part.isdigit():
                    ids.append(int(part))
        return ids

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
        token = self._cookies().get("access_token_web")
        with sim.lock:
            sim.stats.max_page = max(sim.stats.max_page, page)
            sim.stats.last_api = {"path": self.path, "headers": dict(self.headers.items())}
            fault = sim.faults.take(sim.sessions.valid(token))
        kind = fault["kind"] if fault else None
        if kind == "429":
            hdrs = []
            if fault.get("retry_after") is not None:
                hdrs.append(("Retry-After", str(int(fault["retry_after"]))))
            return self._reply(429, {"code": 429, "message": "Too Many Requests",
                                     "message_code": "too_many_requests"}, headers=hdrs)
        if kind == "500":
            return self._reply(500, "<html><body><h1>500 Internal Server Error</h1></body></html>",
                               "text/html; charset=utf-8")
        if kind == "403":
            return self._forbidden(fault.get("style", "cloudflare"))
        if kind == "slow":
            time.sleep(float(fault.get("seconds", 1)))
        with sim.lock:
            if kind == "expire_session":
                sim.sessions.revoke(token)
            if not sim.sessions.valid(token):
                authed = False
            else:
                authed = True
                items, total, pages = sim.world.search(catalog_ids, page, per_page)
                render = sim.world.render_v2 if sim.generation == "v2" else sim.world.render_svc
                rendered = [render(r) for r in items]
        if not authed:
            return self._reply(401, {"code": 100, "message": "Token de autenticação inválido",
                                     "message_code": "invalid_authentication_token",
                                     "errors": [], "payload": None})
        resp = {"items": rendered,
                "pagination": {"current_page": page, "total_pages": pages,
                               "total_entries": total, "per_page": per_page,
                               "time": int(time.time())},
                "search_tracking_params": {"search_correlation_id": str(uuid.uuid4()),
                                           "search_session_id": str(uuid.uuid4())},
                "code": 0}
        body = json.dumps(resp, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=sim.generation == "svc").encode("utf-8")
        if kind == "truncate":
            if fault.get("mode") == "length":
                return self._reply(200, body[:len(body) // 2])
            return self._reply(200, body, cut=("close", len(body) // 2))
        if kind == "malformed":
            broken = body[:len(body) // 3] + b',,}]"unterminated <html>'
            return self._reply(200, broken)
        return self._reply(200, body)

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

    # -- the admin API --

    def _admin(self, path, query, body):
        sim = self.server.sim
        cmd = self.command
        send = lambda status, obj: self._reply(status, obj, count=False)  # noqa: E731
        if path == "/_sim/tick" and cmd == "POST":
            new, bumps = self._int(query, "new", -1), self._int(query, "bumps", -1)
            if "new" not in query:
                new = 0
            if "bumps" not in query:
                bumps = 0
            if not (0 <= new <= 100000 and 0 <= bumps <= 100000):
                return send(400, {"error": "new and bumps must be integers in 0..100000"})
            with sim.lock:
                out = sim.world.tick(new, bumps)
            return send(200, out)
        if path == "/_sim/truth" and cmd == "GET":
            with sim.lock:
                items = sim.world.truth(sim.generation)
                extra = {"max_id": sim.world.next_id, "sim_time": sim.world.clock}
            cats = self._ids(query.get("catalog_id", []))
            if cats:
                items = [i for i in items if i["catalog_id"] in cats]
            return send(200, dict(extra, items=items))
        if path == "/_sim/faults":
            if cmd == "DELETE":
                with sim.lock:
                    sim.faults.queue.clear()
                return send(200, {"queued": 0})
            if cmd == "GET":
                with sim.lock:
                    return send(200, {"queued": [dict(f) for f in sim.faults.queue],
                                      "consumed": dict(sim.faults.consumed)})
            if cmd == "POST":
                try:
                    doc = json.loads(body.decode("utf-8") or "{}")
                    specs = doc.get("faults") if isinstance(doc, dict) else None
                    if not isinstance(specs, list):
                        raise ValueError('body must be {"faults":[...]}')
                    checked = [Faults.check(s) for s in specs]
                except (ValueError, UnicodeDecodeError) as e:
                    return send(400, {"error": str(e)})
                with sim.lock:
                    sim.faults.queue += [f for f in checked if f["count"] > 0]
                    n = sum(f["count"] for f in sim.faults.queue)
                return send(200, {"queued": n})
        if path == "/_sim/stats" and cmd == "GET":
            with sim.lock:
                snap = sim.stats.snapshot()
                snap["faults_consumed"] = dict(sim.faults.consumed)
                snap["sessions_issued"] = sim.sessions.issued
            return send(200, snap)
        if path == "/_sim/reset-stats" and cmd == "POST":
            with sim.lock:
                sim.stats.reset()
            return send(200, {"ok": True})
        if path == "/_sim/config" and cmd == "GET":
            return send(200, sim.config())
        return send(404, {"error": "no admin endpoint %s %s" % (cmd, path)})


# --------------------------------------------------------------------------
# Command line


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Simulated Vinted catalog search for vinted-pipeline tests.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--seed", type=int, default=42, help="world seed (default 42)")
    p.add_argument("--catalogs", default="221,1242", help="comma-joined catalog ids (default 221,1242)")
    p.add_argument("--initial", type=int, default=300, help="items per catalog at start (default 300)")
    p.add_argument("--generation", choices=["v2", "svc"], default="v2",
                   help="which catalog API to serve (default v2)")
    p.add_argument("--site", default="pt", help="site tld: pt, pl, co.uk ... (default pt)")
    p.add_argument("--bad-every", type=int, default=0,
                   help="every Nth created item is invalid (0 = never)")
    p.add_argument("--legacy-price-every", type=int, default=0,
                   help='every Nth item uses the legacy price:"3.0" + currency form (0 = never)')
    p.add_argument("--token-ttl", type=int, default=3600,
                   help="seconds an access_token_web stays valid (default 3600)")
    p.add_argument("--epoch", type=int, default=DEFAULT_EPOCH,
                   help="unix time of the simulated clock's start (default %d)" % DEFAULT_EPOCH)
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.add_argument("--auto-tick", type=float, default=0, metavar="SECONDS",
                   help="every SECONDS, add --tick-new new items and --tick-bumps bumps per catalog by itself"
                        " (0 = only on POST /_sim/tick; for demo runs)")
    p.add_argument("--tick-new", type=int, default=20, help="new items per catalog per auto tick (default 20)")
    p.add_argument("--tick-bumps", type=int, default=2, help="bumps per catalog per auto tick (default 2)")
    a = p.parse_args(argv)
    if a.auto_tick < 0 or a.tick_new < 0 or a.tick_bumps < 0:
        p.error("--auto-tick, --tick-new and --tick-bumps must be >= 0")
    try:
        a.catalogs = [int(c) for c in a.catalogs.split(",") if c.strip()]
    except ValueError:
        p.error("--catalogs: expected comma-joined integers, got %r" % a.catalogs)
    if not a.catalogs or any(c <= 0 for c in a.catalogs) or len(set(a.catalogs)) != len(a.catalogs):
        p.error("--catalogs: need distinct positive catalog ids")
    if a.site not in SITES:
        p.error("--site: unknown site %r (known: %s)" % (a.site, " ".join(SITES)))
    for name in ("initial", "bad_every", "legacy_price_every"):
        if getattr(a, name) < 0:
            p.error("--%s: must be >= 0" % name.replace("_", "-"))
    if a.token_ttl <= 0:
        p.error("--token-ttl: must be > 0")
    if not 0 <= a.port <= 65535:
        p.error("--port: must be 0..65535")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sim = Sim(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.sim = sim
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.auto_tick > 0:
        def auto_tick():
            while True:
                time.sleep(args.auto_tick)
                with sim.lock:
                    sim.world.tick(args.tick_new, args.tick_bumps)
        threading.Thread(target=auto_tick, daemon=True).start()
    sys.stderr.write("vinted-sim: listening port=%d generation=%s site=%s seed=%d catalogs=%s items=%d\n"
                     % (port, args.generation, args.site, args.seed,
                        ",".join(map(str, args.catalogs)), len(sim.world.items)))
    sys.stderr.flush()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    sys.stderr.write("vinted-sim: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
