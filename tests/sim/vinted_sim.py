#!/usr/bin/env python3
"""vinted_sim.py - a simulated Vinted for the pipeline's tests.

Serves the two catalog-search generations described in
shared/vinted-api-notes.md (v2: /api/v2/catalog/items on the www host;
svc: /svc-catalogue/items on the api host) from one deterministic world
built from a seed, plus the home page that hands out session cookies, the
tracking flow's sources (seller lists /api/v2/users/{id}/items, profiles
/api/v2/users/{id}, public item pages /items/{id} with JSON-LD) and the
image CDN's /t/<hash>/<size>/<ts>.webp. One server answers for every host.
Tests steer it through /_sim/ (new listings, bumps, item life cycle,
injected faults) and read back what a correct pipeline must have stored
(/_sim/truth...). See README.md beside this file.

Python 3 standard library only.
"""

import argparse
import base64
import email.utils
import collections
import hashlib
import html
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import unicodedata
import uuid
import zlib
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
# Hostile listings (POST /_sim/hostile): content that must be stored exactly, or
# quarantined under a named rule, never executed and never a crash. Bytes a
# Python str cannot carry into JSON (invalid UTF-8, an unpaired surrogate escape,
# a raw NUL inside a string) are written as raw_bytes() marks, which serve_bytes()
# turns into those bytes in the served body. Each case: (name, rule or None for
# "stored exactly", fields to set on the listing, item JSON keys to serve instead,
# truth fields that differ from the listing's).
RAW_OPEN, RAW_CLOSE = "\U0010fffe", "\U0010ffff"
RAW_MARK_RE = re.compile(re.escape(RAW_OPEN.encode("utf-8")) + rb"([0-9a-f]*)"
                         + re.escape(RAW_CLOSE.encode("utf-8")))
HOSTILE_TITLE_BYTES = 1 << 20


def raw_bytes(data):
    """A mark standing for these exact bytes in a served body."""
    return RAW_OPEN + data.hex() + RAW_CLOSE


def serve_bytes(body):
    """The served body: every raw_bytes() mark replaced by its bytes."""
    if RAW_OPEN.encode("utf-8") not in body:
        return body
    return RAW_MARK_RE.sub(lambda m: bytes.fromhex(m.group(1).decode("ascii")), body)


def printable(text):
    """text without raw_bytes() marks (U+FFFD instead), safe to put in the truth."""
    if text is None or RAW_OPEN not in text:
        return text
    return RAW_MARK_RE.sub(b"\xef\xbf\xbd", text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")


def _huge_title():
    unit = "Vestido enorme ç€😀 \"'\\ "  # 1, 2, 3 and 4-byte characters, quotes, a backslash
    text = unit * (HOSTILE_TITLE_BYTES // len(unit.encode("utf-8")) + 1)
    text = text.encode("utf-8")[:HOSTILE_TITLE_BYTES].decode("utf-8", "ignore")  # whole characters
    return text + "." * (HOSTILE_TITLE_BYTES - len(text.encode("utf-8")))  # exactly 1 MiB


HOSTILE_CASES = [
    ("quotes", None, {"title": 'Vestido "longo" d\'Ouro, ‘curvas’ “aspas” «guillemets» `tick`',
                      "brand": 'Levi\'s "501"'}, {}, {}),
    ("backslashes", None, {"title": "C:\\path\\to\\file \\N \\\\ \\t \\x00 \\u0000 \\ud800 (literal text)",
                           "brand": "Back\\slash\\"}, {}, {}),
    ("sql", None, {"title": "'); DROP TABLE items; --",
                   "brand": "Robert'); DELETE FROM users WHERE ''=''; --",
                   "size": "42'; TRUNCATE windows; --"}, {}, {}),
    ("format", None, {"title": "%s%n%x%p %999999999s %% {0} ${HOME} $(id) `id`"}, {}, {}),
    ("control", None, {"title": "tab\there\nnew line\rreturn \x01\x1b[31m\x7f end"}, {}, {}),
    ("huge_title", None, {"title": _huge_title()}, {}, {}),
    ("nul_escape", "text_invalid", {"title": "before\x00after"}, {}, {}),
    ("nul_raw", "text_invalid", {"title": "before" + raw_bytes(b"\x00") + "after"}, {}, {}),
    ("invalid_utf8", "text_invalid",
     {"title": "caf" + raw_bytes(b"\xe9") + " cr" + raw_bytes(b"\xc3\x28") + " overlong "
      + raw_bytes(b"\xc0\xaf")}, {}, {}),
    ("lone_surrogate", "text_invalid",
     {"title": "broken " + raw_bytes(b"\\ud800") + " pair " + raw_bytes(b"\\udc00")}, {}, {}),
    ("brand_invalid_utf8", "text_invalid", {"brand": "Zara" + raw_bytes(b"\xff\xfe")}, {}, {}),
    ("huge_price", "price_invalid", {},
     {"price": {"amount": "99999999999999999999.99", "currency_code": "EUR"}}, {}),
    ("huge_number_price", "price_invalid", {},
     {"price": {"amount": 10 ** 400, "currency_code": "EUR"}}, {}),
    ("huge_id", "id_missing", {}, {"id": 10 ** 20}, {}),
    ("huge_counts", None, {}, {"favourite_count": 3000000000, "view_count": 10 ** 30},
     {"favourite_count": None, "view_count": None}),
]
HOSTILE_SELLER = "Robert'); DROP TABLE users; --"

BAD_RULES = ["id_missing", "price_missing", "price_invalid",
             "price_not_positive", "currency_unknown", "title_missing"]
FAULT_KINDS = {"429", "500", "503", "403", "404", "truncate", "malformed",
               "expire_session", "slow", "reset", "reformat"}
# faults that need a valid session to mean anything; not consumed without one
SESSION_FAULTS = {"truncate", "malformed", "expire_session", "reformat"}
# which requests a fault targets ("path" in a fault spec)
FAULT_PATHS = ("catalog", "users", "user", "item_page", "cdn", "catalogs")
# kinds that mean nothing for a path class (no session there, or no items list)
FAULT_NOT_FOR = {"item_page": {"expire_session", "reformat"}, "cdn": {"expire_session", "reformat"},
                 "user": {"reformat"}, "catalogs": {"reformat"}}
# "reformat" faults: how a listing's fields change format, as Vinted changes its API
# without notice. Each rewrites every item of the answer it hits (items broken by
# --bad-every keep their broken field as it is):
#   price_string  price, service_fee, total_item_price as plain strings plus a separate
#                 "currency" (the pre-2024 form)
#   price_number  the amounts inside the price objects as JSON numbers (12.5, not "12.5")
#   id_string     the item id as a string ("7000123456")
#   price_cents   the price object renamed to {"amount_cents": 1250, "currency_code": ...}
#   title_renamed "title" renamed to "name"
#   photo_ts_ms   photo.high_resolution.timestamp in milliseconds, not seconds (v2 only)
REFORMAT_FORMS = ("price_string", "price_number", "id_string", "price_cents", "title_renamed", "photo_ts_ms")

V2_PATH = "/api/v2/catalog/items"
SVC_PATH = "/svc-catalogue/items"
MAX_PER_PAGE = 96
MAX_RESULTS = 960
DEFAULT_EPOCH = 1790000000  # 2026-09-21T12:53:20Z: fixed so truth is reproducible
USER_PER_PAGE = 20           # the seller list's default page size
USER_RATE_WINDOW = 10.0      # seconds over which --user-rate counts profile calls

# the public paths besides the catalog search
USER_ITEMS_RE = re.compile(r"^/api/v2/users/(\d+)/items/?$")
USER_RE = re.compile(r"^/api/v2/users/(\d+)/?$")
CATALOGS_PATH = "/api/v2/catalogs"    # the site's catalog tree
# the fixed part of the catalog tree: id -> (title, code, url, parent id or None)
CATALOG_SCAFFOLD = {
    1904: ("Mulher", "WOMEN_ROOT", "/mulher", None),
    5: ("Homem", "MEN_ROOT", "/homem", None),
    1193: ("Criança", "CHILDREN_ROOT", "/crianca", None),
    4: ("Roupa", "WOMENS_CLOTHES", "/mulher/roupa", 1904),
    2050: ("Roupa", "MENS_CLOTHES", "/homem/roupa", 5),
    1231: ("Calçado", "MENS_SHOES", "/homem/calcado", 5),
}
# configured catalogs the sim knows a name for: id -> (title, code, slug, parent id)
CATALOG_KNOWN = {
    221: ("T-shirts", "TSHIRTS", "t-shirts", 2050),
    1242: ("Sapatilhas", "SNEAKERS", "sapatilhas", 1231),
    2320: ("Camisolas", "JUMPERS", "camisolas", 4),
}
CATALOG_ROOTS = (1904, 5, 1193)
ITEM_PAGE_RE = re.compile(r"^/items/(\d+)(?:-[^/]*)?/?$")
CDN_RE = re.compile(r"^/t/([A-Za-z0-9_]+)/([0-9a-z]+)/(\d+)\.(webp|jpe?g)$")
CDN_FULL_RE = re.compile(r"^/tc/([A-Za-z0-9_]+)/(\d+)\.(webp|jpe?g)$")
CDN_HOST = "https://images1.vinted.net"
# photo sizes in URLs -> (width, height); None = the photo's own size (f800, tc)
PHOTO_SIZES = {"f800": None, "tc": None, "310x430": (310, 430),
               "150x210": (150, 210), "70x100": (70, 100)}
COUNTRY_IDS = {site: 1 + i for i, site in enumerate(SITES)}  # made-up but stable

# Seller profiles: country title per site, a few cities, UTC offset (no DST)
COUNTRY = {
    "pt": ("Portugal", ["Lisboa", "Porto", "Braga", "Coimbra", "Faro", "Aveiro",
                        "Setúbal", "Funchal", "Évora", "Viseu"], 0),
    "pl": ("Polska", ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk"], 1),
    "fr": ("France", ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille"], 1),
    "de": ("Deutschland", ["Berlin", "München", "Hamburg", "Köln", "Frankfurt am Main"], 1),
    "co.uk": ("United Kingdom", ["London", "Manchester", "Birmingham", "Leeds", "Glasgow"], 0),
    "it": ("Italia", ["Roma", "Milano", "Napoli", "Torino"], 1),
    "es": ("España", ["Madrid", "Barcelona", "València", "Sevilla"], 1),
    "nl": ("Nederland", ["Amsterdam", "Rotterdam", "Utrecht"], 1),
    "be": ("Belgique", ["Bruxelles", "Liège", "Namur"], 1),
    "at": ("Österreich", ["Wien", "Graz", "Linz"], 1),
    "lu": ("Luxembourg", ["Luxembourg", "Esch-sur-Alzette"], 1),
    "cz": ("Česká republika", ["Praha", "Brno", "Ostrava"], 1),
    "sk": ("Slovensko", ["Bratislava", "Košice"], 1),
    "lt": ("Lietuva", ["Vilnius", "Kaunas"], 2),
    "se": ("Sverige", ["Stockholm", "Göteborg", "Malmö"], 1),
    "dk": ("Danmark", ["København", "Aarhus"], 1),
    "ro": ("România", ["București", "Cluj-Napoca", "Iași"], 2),
    "hu": ("Magyarország", ["Budapest", "Debrecen"], 1),
    "hr": ("Hrvatska", ["Zagreb", "Split"], 1),
    "fi": ("Suomi", ["Helsinki", "Tampere"], 2),
    "ie": ("Ireland", ["Dublin", "Cork"], 0),
    "si": ("Slovenija", ["Ljubljana", "Maribor"], 1),
    "ee": ("Eesti", ["Tallinn", "Tartu"], 2),
    "lv": ("Latvija", ["Rīga", "Daugavpils"], 2),
    "gr": ("Ελλάδα", ["Αθήνα", "Θεσσαλονίκη"], 2),
    "com": ("United States", ["New York", "Chicago", "Austin"], -5),
}


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


def json_for_script(obj):
    """JSON that is safe inside <script>: no '<', '>' or '&' unescaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def zlib_crc(text):
    return zlib.crc32(text.encode("utf-8"))


def iso_local(ts, offset_hours):
    """Unix seconds as Vinted's local ISO 8601 form: 2026-09-21T13:53:20+01:00."""
    off = offset_hours * 3600
    t = time.gmtime(ts + off)
    sign = "-" if off < 0 else "+"
    return "%04d-%02d-%02dT%02d:%02d:%02d%s%02d:%02d" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
        sign, abs(offset_hours), 0)


def webp_image(key, width, height, color):
    """A valid lossless WebP (RIFF + VP8L) of width x height pixels, its bytes
    a pure function of the arguments. Two shades of `color` (0xRRGGBB) in a
    noise pattern taken from SHAKE-256(key): each of the five prefix codes is
    a 'simple' code, green with two symbols (1 bit a pixel), the others with
    one (0 bits), so the file is about width*height/8 bytes."""
    r, g, b = (color >> 16) & 255, (color >> 8) & 255, color & 255
    g0, g1 = sorted((g, (g + 96) % 256))
    if g0 == g1:  # cannot happen with +96, but keep two distinct symbols
        g1 = g0 + 1
    acc, n = 0, 0

    def put(value, bits):
        nonlocal acc, n
        acc |= (value & ((1 << bits) - 1)) << n
        n += bits
    put(0x2F, 8)                        # VP8L signature
    put(width - 1, 14)
    put(height - 1, 14)
    put(0, 1)                           # alpha_is_used
    put(0, 3)                           # version
    put(0, 1)                           # no transform
    put(0, 1)                           # no color cache
    put(0, 1)                           # no meta prefix codes
    put(1, 1); put(1, 1); put(1, 1); put(g0, 8); put(g1, 8)  # green: 2 symbols # noqa: E702
    for sym in (r, b, 255):                                   # red, blue, alpha
        put(1, 1); put(0, 1); put(1, 1); put(sym, 8)          # noqa: E702
    put(1, 1); put(0, 1); put(0, 1); put(0, 1)                # distance: symbol 0 # noqa: E702
    pixels = width * height
    noise = hashlib.shake_256(key.encode()).digest((pixels + 7) // 8)
    put(int.from_bytes(noise, "little"), pixels)
    data = acc.to_bytes((n + 7) // 8, "little")
    chunk = b"VP8L" + len(data).to_bytes(4, "little") + data + (b"\0" if len(data) & 1 else b"")
    return b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk


# --------------------------------------------------------------------------
# The world: every listing ever created, deterministic from the seed


class World:
    """All listings, users and the simulated clock. Only tick(), evolve() and
    the constructor draw from the seeded RNG, so the same seed and the same
    sequence of ticks and evolves always give the same items. Seller profiles
    draw from their own RNG (seeded from the seed and the user id), so adding
    profile fields never shifts the listings."""

    def __init__(self, seed, catalogs, initial, site, bad_every=0,
                 legacy_every=0, epoch=DEFAULT_EPOCH):
        self.rng = random.Random(seed)
        self.seed = seed
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
        self.epoch = epoch
        self.next_id = 7000000000 + self.rng.randrange(1000000)
        self.created = 0  # items created so far (1-based index of the last)
        self.bad_made = 0
        self.items = []  # in creation order, so ids ascend
        self.by_catalog = {c: [] for c in self.catalogs}
        self.children = {}       # market mode: a parent catalog's search shows its children's listings
        self.parent_of = {}
        self.changes = []        # every evolve() change, in sim-clock order
        self.by_id = {}
        self.photo_ids = set()   # every item photo id handed out
        self.photo_index = {}    # CDN hash -> ("item", rec, n) or ("user", user)
        self.users = [self._new_user(i) for i in range(60)]
        self.user_by_id = {}
        self.by_user = {}
        for u in self.users:
            self.user_by_id.setdefault(u["id"], u)
            self.by_user.setdefault(u["id"], [])
            if u["photo"]:
                self.photo_index.setdefault(u["photo"]["hash"], ("user", u))
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
        user = {"id": uid, "login": login, "business": business,
                "photo": photo, "n": i}
        user.update(self._profile(uid))
        return user

    def _profile(self, uid):
        """Profile counters and place of a seller, from an RNG of its own."""
        pr = random.Random("%s/user/%d" % (self.seed, uid))
        country, cities, offset = COUNTRY.get(self.site, COUNTRY["pt"])
        feedback = 0 if pr.random() < 0.15 else int(pr.expovariate(1 / 40.0)) + 1
        neg = neu = 0
        for _ in range(feedback):
            r = pr.random()
            if r < 0.02:
                neg += 1
            elif r < 0.05:
                neu += 1
        pos = feedback - neg - neu
        return {
            "city": pr.choice(cities) if pr.random() >= 0.1 else None,
            "country_title": country, "utc_offset": offset,
            "gender": pr.choice(["F", "F", "M", None]),
            "feedback_count": feedback, "positive_feedback_count": pos,
            "neutral_feedback_count": neu, "negative_feedback_count": neg,
            "feedback_reputation": round((pos + 0.5 * neu) / feedback, 2) if feedback else 0.0,
            "followers_count": int(pr.expovariate(1 / 30.0)),
            "following_count": int(pr.expovariate(1 / 20.0)),
            "taken_item_count": int(pr.expovariate(1 / 15.0)),
            "given_base": int(pr.expovariate(1 / 25.0)),
            "last_login": self.clock - pr.randint(60, 86400 * 30),
        }

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
        while any(photo["id"] + n in self.photo_ids for n in range(photo["extra"] + 1)):
            photo["id"] += 5  # deterministic way round a (rare) id clash
        for n in range(photo["extra"] + 1):
            self.photo_ids.add(photo["id"] + n)
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
            # tracking-flow state (changed by evolve())
            "reserved": False, "hidden": False, "closed": False,
            "closing_action": None, "removed": False, "changed_at": None,
        }
        rec["price0"], rec["fee0"] = price, fee
        rec["fav0"], rec["views0"] = rec["favourite_count"], rec["view_count"]
        for n in range(photo["extra"] + 1):
            self.photo_index.setdefault(self._photo_hash(rec, n), ("item", rec, n))
        self.items.append(rec)
        self.by_id[iid] = rec
        self.by_catalog[cat].append(rec)
        self.by_user.setdefault(user["id"], []).append(rec)
        return rec

    def new_hostile(self, cat, case):
        """A new listing of catalog cat with one HOSTILE_CASES case applied;
        its truth says what must be stored, or the rule that quarantines it."""
        name, rule, fields, serve, truth = next(c for c in HOSTILE_CASES if c[0] == case)
        rec = self._new_item(cat)
        rec["legacy"] = False
        rec["invalid"] = rule
        rec["hostile"] = name
        for key, value in fields.items():
            rec[key] = value
            if key == "brand":
                rec["brand_mode"] = "set"
        if name == "sql":
            uid = 990000000 + rec["index"]
            user = {"id": uid, "login": HOSTILE_SELLER, "business": False, "photo": None, "n": -1}
            user.update(self._profile(uid))
            self.user_by_id[uid] = user
            self.by_user.setdefault(rec["user"]["id"], []).remove(rec)
            self.by_user.setdefault(uid, []).append(rec)
            rec["user"] = user
        if "price" in serve:  # served in the site's currency
            serve = dict(serve, price=dict(serve["price"], currency_code=self.currency))
        rec["serve"] = serve
        rec["truth"] = truth
        return rec

    def market_event(self, kind, leaf, t):
        """Market mode: one event of tests/sim/market.py at market time t (seconds
        from its day 0, placed on this world's clock after its epoch)."""
        self.clock = max(self.clock + 1, self.epoch + int(t))
        if kind == "new":
            return self._new_item(leaf)["id"]
        older = self.by_catalog.get(leaf) or []
        for _ in range(4):  # a random older listing still in search, pushed up
            rec = older[self.rng.randrange(len(older))] if older else None
            if rec and self.in_search(rec):
                rec.setdefault("activity_hist", [rec["created_at"]]).append(self.clock)
                rec["activity"] = self.clock
                rec["bumps"] += 1
                return rec["id"]
        return None

    @staticmethod
    def in_search(rec):
        """Does catalog search still show this listing?"""
        return not (rec["removed"] or rec["hidden"] or rec["closed"])

    def tick(self, new, bumps, per_catalog=None):
        """Each catalog gets `new` new items (per_catalog: {catalog: n} instead, for
        the catalogs it names) and `bumps` pushed-up older ones, interleaved in time."""
        events = []
        for cat in self.catalogs:
            events += [("new", cat)] * (per_catalog.get(cat, new) if per_catalog else new)
            older = [r for r in self.by_catalog[cat] if self.in_search(r)]
            k = min(bumps, len(older))
            events += [("bump", rec) for rec in self.rng.sample(older, k)]
        self.rng.shuffle(events)
        created, bumped = [], []
        for kind, what in events:
            self.clock += self.rng.randint(1, 20)
            if kind == "new":
                created.append(self._new_item(what)["id"])
            else:
                what.setdefault("activity_hist", [what["created_at"]]).append(self.clock)
                what["activity"] = self.clock
                what["bumps"] += 1
                bumped.append(what["id"])
        return {"max_id": self.next_id, "created": created, "bumped": bumped,
                "sim_time": self.clock}

    EVOLVE_KINDS = ("price_changes", "sold", "reserved", "removed", "hidden", "favourites")

    def _price_drop(self, cents):
        """A seller's price cut: 5-50 % off, often to a round amount; exact cents."""
        rng = self.rng
        pct = rng.choice([5, 10, 10, 15, 20, 20, 25, 30, 40, 50])
        new = cents * (100 - pct) // 100
        unit = 100 * self.scale
        if rng.random() < 0.5 and new // unit * unit >= cents // 2:
            new = new // unit * unit                        # 20.00 -> 15.00
        elif rng.random() < 0.5 and new > 10:
            new = new - new % 10                            # 12.34 -> 12.30
        if not 0 < new < cents:
            new = cents - 1
        return new

    def _eligible(self, kind, rec):
        if rec["removed"] or rec["closed"] or rec["invalid"]:
            return False
        if kind in ("price_changes", "removed"):
            return True
        if rec["hidden"]:
            return False
        if kind == "reserved":
            return not rec["reserved"]
        return True  # sold, hidden, favourites

    def evolve(self, counts):
        """Per catalog, counts[kind] random live items get that change. State
        changes (sold, reserved, removed, hidden) go to distinct items; a price
        cut or new favourites may hit one of those too. The changes are spread
        over the simulated clock like tick events and recorded in self.changes.
        Invalid (--bad-every) items never change."""
        events = []
        for cat in self.catalogs:
            taken = set()
            for kind in ("sold", "reserved", "hidden", "removed"):
                pool = [r for r in self.by_catalog[cat]
                        if r["id"] not in taken and self._eligible(kind, r)]
                pick = self.rng.sample(pool, min(counts.get(kind, 0), len(pool)))
                taken.update(r["id"] for r in pick)
                events += [(kind, r) for r in pick]
            for kind in ("price_changes", "favourites"):
                pool = [r for r in self.by_catalog[cat] if self._eligible(kind, r)]
                pick = self.rng.sample(pool, min(counts.get(kind, 0), len(pool)))
                events += [(kind, r) for r in pick]
        self.rng.shuffle(events)
        out = {k: [] for k in self.EVOLVE_KINDS}
        changes = []
        for kind, rec in events:
            self.clock += self.rng.randint(1, 20)
            if not self._eligible(kind, rec):  # removed or sold earlier in this evolve
                continue
            change = {"sim_time": self.clock, "item_id": rec["id"], "user_id": rec["user"]["id"],
                      "kind": kind}
            if kind == "price_changes":
                new = self._price_drop(rec["price"])
                change.update(old_price=money2(rec["price"]), new_price=money2(new))
                rec["price"] = new
                rec["fee"] = 70 * self.scale + (new * 5 + 50) // 100
            elif kind == "favourites":
                fav, views = self.rng.randint(1, 5), self.rng.randint(3, 40)
                change.update(old_favourite_count=rec["favourite_count"],
                              new_favourite_count=rec["favourite_count"] + fav,
                              old_view_count=rec["view_count"],
                              new_view_count=rec["view_count"] + views)
                rec["favourite_count"] += fav
                rec["view_count"] += views
            elif kind == "sold":
                rec["closed"], rec["closing_action"], rec["reserved"] = True, "sold", False
            elif kind == "reserved":
                rec["reserved"] = True
            elif kind == "hidden":
                rec["hidden"] = True
            elif kind == "removed":
                rec["removed"] = True
            rec["changed_at"] = self.clock
            if kind != "favourites":  # the seller did something: they were online
                rec["user"]["last_login"] = max(rec["user"]["last_login"], self.clock)
            changes.append(change)
            out[kind].append(rec["id"])
        self.changes += changes
        out["changes"] = changes
        out["sim_time"] = self.clock
        return out

    def seller_items(self, uid, page, per_page):
        """(items on the page, total_entries, total_pages): the seller's
        listings that still exist, newest first."""
        pool = [r for r in self.by_user.get(uid, []) if not r["removed"]]
        pool.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        total = len(pool)
        pages = (total + per_page - 1) // per_page
        start = (page - 1) * per_page
        return pool[start:start + per_page], total, pages

    def user_counts(self, u):
        """The counters that follow the listings: active and sold items."""
        mine = self.by_user.get(u["id"], [])
        active = sum(1 for r in mine if not (r["removed"] or r["closed"]))
        sold = sum(1 for r in mine if r["closing_action"] == "sold")
        return active, u["given_base"] + sold

    def item_by_id(self, item_id):
        return self.by_id.get(item_id)

    def catalog_tree(self):
        """The catalog tree as flat nodes [{catalog_id, parent_id, title, code,
        url, depth}] in walk order (parents first): the fixed scaffold plus
        every configured catalog, known ones under their parent, the others
        under the roots in turn with a generated title."""
        nodes = {cid: {"catalog_id": cid, "parent_id": par, "title": t, "code": c, "url": u}
                 for cid, (t, c, u, par) in CATALOG_SCAFFOLD.items()}
        for n, cid in enumerate(sorted(set(self.catalogs))):
            if cid in nodes:
                continue
            if cid in CATALOG_KNOWN:
                t, c, slug, par = CATALOG_KNOWN[cid]
            else:
                par = self.parent_of.get(cid) or CATALOG_ROOTS[n % len(CATALOG_ROOTS)]
                t, c, slug = "Catálogo %d" % cid, "CATALOG_%d" % cid, "catalogo-%d" % cid
            nodes[cid] = {"catalog_id": cid, "parent_id": par, "title": t, "code": c,
                          "url": "%s/%s" % (nodes[par]["url"], slug)}
        out = []

        def walk(parent, depth):
            for cid in sorted(k for k, v in nodes.items() if v["parent_id"] == parent):
                out.append(dict(nodes[cid], depth=depth))
                walk(cid, depth + 1)
        for root in CATALOG_ROOTS:
            out.append(dict(nodes[root], depth=0))
            walk(root, 1)
        return out

    def catalogs_nested(self):
        """GET /api/v2/catalogs's nested form: {catalogs:[{id,title,code,url,catalogs:[...]}]}."""
        flat = self.catalog_tree()

        def node(n):
            return {"id": n["catalog_id"], "title": n["title"], "code": n["code"],
                    "url": n["url"], "item_count": len(self.by_catalog.get(n["catalog_id"], [])),
                    "catalogs": [node(c) for c in flat if c["parent_id"] == n["catalog_id"]]}
        return {"catalogs": [node(n) for n in flat if n["parent_id"] is None], "code": 0}

    @staticmethod
    def activity_at(rec, at):
        """When rec last showed up at the top of newest_first as of sim time `at`
        (None: it did not exist yet): its creation, or its last bump by then."""
        if at is None:
            return rec["activity"]
        if rec["created_at"] > at:
            return None
        return max(a for a in rec.get("activity_hist", [rec["created_at"]]) if a <= at)

    def search(self, catalog_ids, page, per_page, price_from=None, price_to=None, at=None):
        """(items on the page, total_entries, total_pages) for newest_first.
        price_from/price_to (cents, inclusive, None: open) narrow it to a price
        band; `at` (sim seconds, v2's time=) pins the result set: listings made
        later are left out and bumps after it not yet applied, so the pages of one
        paging run do not shift."""
        if catalog_ids is None:
            pool = self.items
        else:
            leaves = [k for c in catalog_ids for k in self.children.get(c, [c])]
            pool = [r for c in leaves for r in self.by_catalog.get(c, [])]
        pool = [r for r in pool if self.in_search(r)
                and (price_from is None or r["price"] >= price_from)
                and (price_to is None or r["price"] <= price_to)]
        keyed = ((self.activity_at(r, at), r) for r in pool)
        pool = [r for _, r in sorted(((a, r) for a, r in keyed if a is not None),
                                     key=lambda ar: (ar[0], ar[1]["id"]), reverse=True)]
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
        return "%s/t/%s/%s/%d.webp?s=%s" % (CDN_HOST, h, size, ts, sig(h, size, ts))

    def _full(self, h, ts):
        return "%s/tc/%s/%d.webp?s=%s" % (CDN_HOST, h, ts, sig(h, "tc", ts))

    @staticmethod
    def _photo_hash(rec, n):
        """The CDN hash of photo n: the main one's, or one derived from it
        (same "02_xxxxx_" prefix, distinct for every photo)."""
        h = rec["photo"]["hash"]
        if n == 0:
            return h
        return h[:9] + hashlib.sha1(("%s/%d" % (h, n)).encode()).hexdigest()[:24]

    @staticmethod
    def _photo_ts(rec, n):
        return rec["created_at"] + n * 3  # later photos uploaded a bit later

    def photo_count(self, rec):
        return 1 + rec["photo"]["extra"]

    def _photo(self, rec, n, with_timestamp):
        p = rec["photo"]
        ts = self._photo_ts(rec, n)
        h = self._photo_hash(rec, n)
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
        it.update(rec.get("serve") or {})  # a hostile listing's keys (new_hostile)
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

    def _truth_price(self, rec, cents):
        """What the truth says of a price: 2 decimals, or the bad rule's value."""
        bad = rec["invalid"]
        if bad == "price_missing":
            return None
        if bad == "price_invalid":
            return "abc"
        if bad == "price_not_positive":
            return "-" + money2(cents)
        return money2(cents)

    def _served_amount(self, rec, cents):
        """An amount as served (Vinted's short decimals), with the bad rule."""
        if rec["invalid"] == "price_invalid":
            return "abc"
        if rec["invalid"] == "price_not_positive":
            return "-" + money_str(cents)
        return money_str(cents)

    def _currency(self, rec):
        return "XYZ" if rec["invalid"] == "currency_unknown" else self.currency

    # --- the tracking flow's views ---------------------------------------

    def render_user_item(self, rec):
        """One item of GET /api/v2/users/{id}/items (the old tracking source)."""
        cur = self._currency(rec)
        u = rec["user"]
        amount = self._served_amount(rec, rec["price"])
        path = self._path(rec)
        it = {
            "id": rec["id"], "title": rec["title"], "catalog_id": rec["catalog_id"],
            "price": {"amount": amount, "currency_code": cur},
            "price_numeric": amount,
            "original_price_numeric": self._served_amount(rec, rec["price0"]),
            "currency": cur,
            "service_fee": {"amount": money_str(rec["fee"]), "currency_code": cur},
            "total_item_price": {"amount": money_str(rec["price"] + rec["fee"]), "currency_code": cur},
            "discount": None,
            "is_reserved": rec["reserved"], "is_hidden": rec["hidden"],
            "is_closed": rec["closed"], "item_closing_action": rec["closing_action"],
            "is_visible": not rec["hidden"], "is_draft": False,
            "is_processing": False, "promoted": rec["bumps"] > 0,
            "favourite_count": rec["favourite_count"], "view_count": rec["view_count"],
            "photos": [self._photo(rec, n, True) for n in range(self.photo_count(rec))],
            "user": {"id": u["id"], "login": u["login"],
                     "profile_url": "%s/member/%d-%s" % (self.www, u["id"], u["login"]),
                     "business": u["business"]},
            "url": self.www + path, "path": path,
            "status": rec["condition"], "size_title": rec["size"],
        }
        if rec["brand_mode"] != "absent":
            it["brand_title"] = rec["brand"] or ""
        if rec["invalid"] == "price_missing":
            for key in ("price", "price_numeric", "original_price_numeric"):
                del it[key]
        if rec["invalid"] == "id_missing":
            del it["id"]
        if rec["invalid"] == "title_missing":
            del it["title"]
        it.update(rec.get("serve") or {})
        return it

    def _user_truth(self, u):
        active, given = self.user_counts(u)
        return {
            "user_id": u["id"], "login": u["login"], "business": u["business"],
            "item_count": active, "given_item_count": given,
            "taken_item_count": u["taken_item_count"],
            "followers_count": u["followers_count"], "following_count": u["following_count"],
            "feedback_count": u["feedback_count"],
            "feedback_reputation": u["feedback_reputation"],
            "positive_feedback_count": u["positive_feedback_count"],
            "neutral_feedback_count": u["neutral_feedback_count"],
            "negative_feedback_count": u["negative_feedback_count"],
            "city": u["city"], "country_title": u["country_title"],
            "last_loged_on_ts": iso_local(u["last_login"], u["utc_offset"]),
            "last_loged_on": u["last_login"],
        }

    def render_user(self, u):
        """GET /api/v2/users/{id}'s {user:{...}}."""
        t = self._user_truth(u)
        photo = None
        if u["photo"]:
            up = u["photo"]
            photo = {"id": up["id"], "width": 600, "height": 800, "is_main": True,
                     "url": self._img(up["hash"], "f800", up["ts"]),
                     "high_resolution": {"id": up["hash"], "timestamp": up["ts"],
                                         "orientation": None},
                     "full_size_url": self._full(up["hash"], up["ts"])}
        country_code = self.site.split(".")[-1].upper()
        if country_code == "UK":
            country_code = "GB"
        elif country_code == "COM":
            country_code = "US"
        return {"user": {
            "id": u["id"], "anon_id": str(uuid.UUID(bytes=hashlib.md5(b"%d/%d" % (self.seed, u["id"])).digest(), version=4)),
            "login": u["login"], "real_name": None, "email": None, "birthday": None,
            "gender": u["gender"], "item_count": t["item_count"],
            "msg_template_count": 0, "given_item_count": t["given_item_count"],
            "taken_item_count": t["taken_item_count"], "favourite_topic_count": 0,
            "forum_msg_count": 0, "forum_topic_count": 0,
            "followers_count": t["followers_count"], "following_count": t["following_count"],
            "following_brands_count": 0,
            "positive_feedback_count": t["positive_feedback_count"],
            "neutral_feedback_count": t["neutral_feedback_count"],
            "negative_feedback_count": t["negative_feedback_count"],
            "meeting_transaction_count": 0, "account_status": 0,
            "feedback_reputation": t["feedback_reputation"],
            "feedback_count": t["feedback_count"],
            "is_online": False, "is_on_holiday": False, "is_publish_photos_agreed": True,
            "expose_location": True, "third_party_tracking": True,
            "city": t["city"], "city_id": (zlib_crc(t["city"]) % 90000 + 10000) if t["city"] else None,
            "country_id": COUNTRY_IDS.get(self.site, 0), "country_code": country_code,
            "country_title": t["country_title"], "country_title_local": t["country_title"],
            "last_loged_on_ts": t["last_loged_on_ts"],
            "profile_url": "%s/member/%d-%s" % (self.www, u["id"], u["login"]),
            "share_profile_url": "%s/member/%d" % (self.www, u["id"]),
            "photo": photo, "business": u["business"],
            "verification": {"email": {"valid": True, "available": True},
                             "facebook": {"valid": False, "available": False},
                             "google": {"valid": False, "available": False},
                             "phone": {"valid": u["feedback_count"] > 10, "available": True}},
            "locale": self.lang,
        }}

    def item_page(self, rec, broken=False):
        """The public /items/{id} page: HTML with the item in JSON-LD.
        broken=True garbles the Product block (the 'malformed' fault)."""
        cur = self._currency(rec)
        price = self._truth_price(rec, rec["price"])
        images = [self._img(self._photo_hash(rec, n), "f800", self._photo_ts(rec, n))
                  for n in range(self.photo_count(rec))]
        offer = {"@type": "Offer", "priceCurrency": cur,
                 "availability": "https://schema.org/SoldOut" if rec["closed"]
                 else "https://schema.org/InStock",
                 "url": self.www + self._path(rec),
                 "itemCondition": "https://schema.org/NewCondition"
                 if rec["condition"] in self.conditions[:2] else "https://schema.org/UsedCondition"}
        if price is not None:
            offer["price"] = price
        product = {"@context": "https://schema.org", "@type": "Product",
                   "productID": str(rec["id"]), "sku": str(rec["id"]),
                   "image": images[0], "offers": offer,
                   "description": "%s, %s" % (rec["condition"], rec["size"] or "-")}
        if rec["title"] is not None:
            product["name"] = rec["title"]
        if rec["brand"]:
            product["brand"] = {"@type": "Brand", "name": rec["brand"]}
        crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList",
                  "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Vinted",
                                       "item": self.www + "/"},
                                      {"@type": "ListItem", "position": 2,
                                       "name": str(rec["catalog_id"]),
                                       "item": "%s/catalog/%d" % (self.www, rec["catalog_id"])}]}
        ld = json_for_script(product)
        if broken:
            ld = ld[:len(ld) // 2] + ',,"offers":{'
        title = html.escape(rec["title"] or "Vinted")
        return ITEM_HTML.format(lang=self.lang, title=title, crumbs=json_for_script(crumbs),
                                product=ld, image=html.escape(images[0]))

    def truth_states(self):
        out = []
        for rec in self.items:
            out.append({
                "item_id": rec["id"], "user_id": rec["user"]["id"],
                "catalog_id": rec["catalog_id"],
                "price": self._truth_price(rec, rec["price"]),
                "original_price": self._truth_price(rec, rec["price0"]),
                "currency": self._currency(rec),
                "favourite_count": rec["favourite_count"], "view_count": rec["view_count"],
                "is_reserved": rec["reserved"], "is_hidden": rec["hidden"],
                "is_closed": rec["closed"], "item_closing_action": rec["closing_action"],
                "removed": rec["removed"], "in_search": self.in_search(rec),
                "changed_at": rec["changed_at"], "invalid": rec["invalid"],
            })
        return out

    def truth_users(self):
        return [self._user_truth(u) for u in sorted(self.user_by_id.values(), key=lambda u: u["id"])]

    def photo_list(self, item_id=None, main_only=False):
        """[(rec, n)] for every item photo, in item then photo order."""
        out = []
        for rec in self.items:
            if item_id is not None and rec["id"] != item_id:
                continue
            for n in range(1 if main_only else self.photo_count(rec)):
                out.append((rec, n))
        return out

    def photo_meta(self, rec, n, size):
        """Everything needed to serve or describe one photo in one size:
        (url, key, width, height, color, photo_id)."""
        h, ts = self._photo_hash(rec, n), self._photo_ts(rec, n)
        p = rec["photo"]
        w, hh = PHOTO_SIZES[size] or (p["width"], p["height"])
        url = self._full(h, ts) if size == "tc" else self._img(h, size, ts)
        return url, "%s/%s/%d" % (h, size, ts), w, hh, int(p["color"][1:], 16), p["id"] + n

    def cdn_lookup(self, h, size, ts):
        """(key, width, height, color) of the image at /t/h/size/ts, or None."""
        hit = self.photo_index.get(h)
        if hit is None or size not in PHOTO_SIZES:
            return None
        if hit[0] == "item":
            _, rec, n = hit
            if self._photo_ts(rec, n) != ts:
                return None
            _, key, w, hh, color, _ = self.photo_meta(rec, n, size)
            return key, w, hh, color
        u = hit[1]
        if u["photo"]["ts"] != ts:
            return None
        w, hh = PHOTO_SIZES[size] or (600, 800)
        return "%s/%s/%d" % (h, size, ts), w, hh, 0x8FA3B8

    def truth(self, generation, current=False):
        """Catalog truth: each listing as first published, or with current=True
        as it is now (price, fee and counts after evolve())."""
        out = []
        for rec in self.items:
            bad = rec["invalid"]
            cents = rec["price"] if current else rec["price0"]
            fee = rec["fee"] if current else rec["fee0"]
            price = self._truth_price(rec, cents)
            out.append({
                "item_id": rec["id"], "catalog_id": rec["catalog_id"],
                # the catalog whose search shows it (market mode: a child's parent)
                "search_catalog_id": self.parent_of.get(rec["catalog_id"], rec["catalog_id"]),
                "title": None if bad == "title_missing" else rec["title"],
                "price": price,
                "currency": "XYZ" if bad == "currency_unknown" else self.currency,
                "service_fee": money2(fee),
                "total_price": money2(cents + fee),
                "brand": rec["brand"] or None,
                "size_title": rec["size"] or None,
                "condition": rec["condition"],
                "user_id": rec["user"]["id"], "user_login": rec["user"]["login"],
                "url": self.www + self._path(rec),
                "photo_url": self._img(rec["photo"]["hash"], "f800", rec["created_at"]),
                "favourite_count": rec["favourite_count"] if current else rec["fav0"],
                "view_count": rec["view_count"] if current else rec["views0"],
                "created_at": rec["created_at"] if generation == "v2" else None,
                "invalid": bad,
            })
            if rec.get("hostile"):
                out[-1].update(rec["truth"], hostile=rec["hostile"], title=printable(out[-1]["title"]),
                               brand=printable(out[-1]["brand"]))
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


ITEM_HTML = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Vinted</title>
<meta property="og:title" content="{title}"><meta property="og:image" content="{image}">
<script type="application/ld+json">{crumbs}</script>
<script type="application/ld+json">{product}</script>
</head><body><div id="__next"><h1>{title}</h1></div></body></html>
"""
NOT_FOUND_HTML = "<!DOCTYPE html><title>404</title><h1>Página não encontrada</h1>"
CDN_403 = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Invalid signature</Message></Error>
"""
CDN_404 = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>
"""


class Handler(BaseHTTPRequestHandler):
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
            rates = {}
            for part in (x for x in query.get("rates", [""])[0].split(",") if x.strip()):
                cat, _, n = part.partition(":")
                if not (cat.isdigit() and n.isdigit() and int(cat) in sim.world.catalogs and int(n) <= 100000):
                    return send(400, {"error": "rates: CAT:N pairs of served catalogs, N in 0..100000"})
                rates[int(cat)] = int(n)
            with sim.lock:
                out = sim.world.tick(new, bumps, rates)
            return send(200, out)
        if path == "/_sim/hostile" and cmd == "POST":
            names = [c[0] for c in HOSTILE_CASES]
            cases = [c for c in ",".join(query.get("cases", [])).split(",") if c] or names
            unknown = [c for c in cases if c not in names]
            cats = self._ids(query.get("catalog", [])) or sim.world.catalogs
            if unknown or any(c not in sim.world.catalogs for c in cats):
                return send(400, {"error": "unknown case %s (known: %s) or catalog" % (
                    ",".join(unknown), ", ".join(names))})
            with sim.lock:
                made = []
                for cat in cats:
                    for case in cases:
                        sim.world.clock += 1
                        rec = sim.world.new_hostile(cat, case)
                        made.append({"item_id": rec["id"], "catalog_id": cat, "case": case,
                                     "rule": rec["invalid"]})
                out = {"created": made, "max_id": sim.world.next_id, "sim_time": sim.world.clock}
            return send(200, out)
        if path == "/_sim/evolve" and cmd == "POST":
            counts = {}
            for kind in World.EVOLVE_KINDS:
                n = self._int(query, kind, -1) if kind in query else 0
                if not 0 <= n <= 100000:
                    return send(400, {"error": "%s must be an integer in 0..100000" % kind})
                counts[kind] = n
            unknown = sorted(set(query) - set(World.EVOLVE_KINDS))
            if unknown:
                return send(400, {"error": "unknown evolve parameter %s (known: %s)" % (
                    unknown[0], ", ".join(World.EVOLVE_KINDS))})
            with sim.lock:
                out = sim.world.evolve(counts)
            return send(200, out)
        if path == "/_sim/truth/states" and cmd == "GET":
            with sim.lock:
                items = sim.world.truth_states()
                clock = sim.world.clock
            cats = self._ids(query.get("catalog_id", []))
            if cats:
                items = [i for i in items if i["catalog_id"] in cats]
            return send(200, {"items": items, "sim_time": clock})
        if path == "/_sim/truth/catalogs" and cmd == "GET":
            with sim.lock:
                tree = sim.world.catalog_tree()
            return send(200, {"catalogs": tree})
        if path == "/_sim/truth/users" and cmd == "GET":
            with sim.lock:
                users = sim.world.truth_users()
            return send(200, {"users": users})
        if path == "/_sim/truth/changes" and cmd == "GET":
            with sim.lock:
                changes = list(sim.world.changes)
            return send(200, {"changes": changes})
        if path == "/_sim/truth/photos" and cmd == "GET":
            size = query.get("size", ["f800"])[0]
            if size not in PHOTO_SIZES:
                return send(400, {"error": "size must be one of %s" % ", ".join(sorted(PHOTO_SIZES))})
            item_ids = self._ids(query.get("item_id", []))
            main_only = query.get("main", ["0"])[0] in ("1", "true")
            with sim.lock:
                rows = []
                for rec, n in sim.world.photo_list(item_ids[0] if item_ids else None, main_only):
                    rows.append((rec["id"], n, rec["removed"]) + sim.world.photo_meta(rec, n, size))
            photos = []
            for item_id, n, removed, url, key, w, hh, color, pid in rows:
                nbytes, digest = sim.image_truth(key, w, hh, color)
                photos.append({"item_id": item_id, "photo_id": pid, "image_no": n + 1,
                               "is_main": n == 0, "url": url, "size": size,
                               "width": w, "height": hh, "size_bytes": nbytes, "sha256": digest,
                               "content_type": "image/webp", "item_removed": removed})
            return send(200, {"photos": photos})
        if path == "/_sim/user-rate" and cmd == "POST":
            n = self._int(query, "per_10s", -1)
            if n < 0:
                return send(400, {"error": "per_10s must be an integer >= 0 (0 = no limit)"})
            with sim.lock:
                sim.user_rate = n
                sim.user_calls.clear()
            return send(200, {"user_rate": n})
        if path == "/_sim/truth" and cmd == "GET":
            current = query.get("current", ["0"])[0] in ("1", "true")
            with sim.lock:
                items = sim.world.truth(sim.generation, current)
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
                    return send(200, {"queued": [Faults.public(f) for f in sim.faults.queue],
                                      "consumed": dict(sim.faults.consumed),
                                      "consumed_by_path": dict(sim.faults.consumed_by_path),
                                      "reformatted": {k: list(v) for k, v in sim.faults.reformatted.items()}})
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
        if path == "/_sim/market":
            # GET: where the market is; POST ?run=0|1: stop or resume its arrivals
            if sim.market is None:
                return send(400, {"error": "the simulator runs without --market"})
            with sim.lock:
                if cmd == "POST":
                    sim.market_running = query.get("run", ["1"])[0] != "0"
                return send(200, {"running": sim.market_running, "market_time": sim.market_t,
                                  "events": sim.market_events, "catalogs": sim.market.catalogs,
                                  "children": {str(k): v for k, v in sim.market.children.items()}})
        if path == "/_sim/block" and cmd == "POST":
            # /_sim/block?proxy=K&on=1|0: requests through proxy K (0-based) get 403 from DataDome
            try:
                k, on = int(query.get("proxy", [""])[0]), query.get("on", ["1"])[0] != "0"
                if not 0 <= k < len(sim.proxy_ports):
                    raise ValueError
            except ValueError:
                return send(400, {"error": "proxy: an index of --proxies (0..%d)" % (len(sim.proxy_ports) - 1)})
            with sim.lock:
                (sim.blocked_proxies.add if on else sim.blocked_proxies.discard)(k)
                return send(200, {"blocked": sorted(sim.blocked_proxies)})
        if path == "/_sim/stats" and cmd == "GET":
            with sim.lock:
                snap = sim.stats.snapshot()
                snap["by_proxy"] = dict(sim.by_proxy)
                snap["faults_consumed"] = dict(sim.faults.consumed)
                snap["faults_consumed_by_path"] = dict(sim.faults.consumed_by_path)
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
        description="Simulated Vinted (catalog search, seller lists, users, item pages,"
                    " image CDN) for vinted-pipeline tests.")
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = any free port)")
    p.add_argument("--bind", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
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
    p.add_argument("--user-rate", type=int, default=30, metavar="N",
                   help="GET /api/v2/users/{id}: more than N calls in 10 s answer 429 with"
                        " Retry-After (default 30; 0 = no limit)")
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    p.add_argument("--market", type=int, default=0, metavar="N",
                   help="market mode: N catalogs of tests/sim/market.py (heavy-tailed rates, daily cycle, bursts,"
                        " pushed-up listings, busy parents whose listings live in children) replace --catalogs;"
                        " their listings arrive in time, --market-speed market seconds per second")
    p.add_argument("--market-seed", type=int, default=None, help="market mode: the market's seed (default --seed)")
    p.add_argument("--market-speed", type=float, default=60.0, help="market mode: market seconds per second (default 60)")
    p.add_argument("--market-scale", type=float, default=1.0, help="market mode: every rate times this (default 1)")
    p.add_argument("--market-start-day", type=int, default=10, help="market mode: the market day it starts at (default 10)")
    p.add_argument("--proxies", type=int, default=0, metavar="N",
                   help="also listen on N proxy ports (forward proxies for plain http, each an egress identity"
                        " of its own: POST /_sim/block?proxy=K bans one); their ports go to --port-file after"
                        " the main one, one a line")
    p.add_argument("--auto-tick", type=float, default=0, metavar="SECONDS",
                   help="every SECONDS, add --tick-new new items and --tick-bumps bumps per catalog by itself"
                        " (0 = only on POST /_sim/tick; for demo runs)")
    p.add_argument("--tick-new", type=int, default=20, help="new items per catalog per auto tick (default 20)")
    p.add_argument("--tick-bumps", type=int, default=2, help="bumps per catalog per auto tick (default 2)")
    p.add_argument("--tick-rates", default="", metavar="CAT:N,...",
                   help="new items per auto tick for the catalogs named (the others: --tick-new)")
    a = p.parse_args(argv)
    if a.auto_tick < 0 or a.tick_new < 0 or a.tick_bumps < 0:
        p.error("--auto-tick, --tick-new and --tick-bumps must be >= 0")
    try:
        a.catalogs = [int(c) for c in a.catalogs.split(",") if c.strip()]
    except ValueError:
        p.error("--catalogs: expected comma-joined integers, got %r" % a.catalogs)
    if not a.catalogs or any(c <= 0 for c in a.catalogs) or len(set(a.catalogs)) != len(a.catalogs):
        p.error("--catalogs: need distinct positive catalog ids")
    rates = {}
    for part in (x for x in a.tick_rates.split(",") if x.strip()):
        cat, _, n = part.partition(":")
        try:
            rates[int(cat)] = int(n)
        except ValueError:
            p.error("--tick-rates: expected CAT:N pairs, got %r" % part)
        if int(cat) not in a.catalogs or rates[int(cat)] < 0:
            p.error("--tick-rates: %r: the catalog must be in --catalogs and N >= 0" % part)
    a.tick_rates = rates
    if a.market < 0 or a.market > 5000 or a.market_speed <= 0 or a.market_scale <= 0:
        p.error("--market: 0..5000 catalogs; --market-speed and --market-scale above 0")
    if a.market_seed is None:
        a.market_seed = a.seed
    if a.market:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import market as market_mod
        m = market_mod.Market(a.market_seed, n_catalogs=a.market, scale=a.market_scale)
        a.catalogs = sorted(m.base)  # the market's catalogs and their children (the children hold listings)
    if a.site not in SITES:
        p.error("--site: unknown site %r (known: %s)" % (a.site, " ".join(SITES)))
    for name in ("initial", "bad_every", "legacy_price_every"):
        if getattr(a, name) < 0:
            p.error("--%s: must be >= 0" % name.replace("_", "-"))
    if a.user_rate < 0:
        p.error("--user-rate: must be >= 0")
    if a.token_ttl <= 0:
        p.error("--token-ttl: must be > 0")
    if not 0 <= a.port <= 65535:
        p.error("--port: must be 0..65535")
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sim = Sim(args)
    server = ThreadingHTTPServer((args.bind, args.port), Handler)
    server.daemon_threads = True
    server.sim = sim
    port = server.server_address[1]
    proxies = []
    for k in range(args.proxies):
        ps = ThreadingHTTPServer((args.bind, 0), Handler)
        ps.daemon_threads = True
        ps.sim, ps.proxy_index = sim, k
        proxies.append(ps)
        threading.Thread(target=ps.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    sim.proxy_ports = [ps.server_address[1] for ps in proxies]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join("%d\n" % p for p in [port] + sim.proxy_ports))
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if sim.market is not None:
        def market_driver():
            last = time.monotonic()
            while True:
                time.sleep(0.2)
                now = time.monotonic()
                with sim.lock:
                    if sim.market_running:
                        sim.market_step((now - last) * args.market_speed)
                last = now
        threading.Thread(target=market_driver, daemon=True).start()
    if args.auto_tick > 0:
        def auto_tick():
            while True:
                time.sleep(args.auto_tick)
                with sim.lock:
                    sim.world.tick(args.tick_new, args.tick_bumps, args.tick_rates)
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
