"""sim_facts.py - what the simulated Vinted knows of the real one: sites, currencies,
conditions, sizes, brands, titles (awkward and hostile ones included), fault kinds, paths and
limits (from shared/vinted-api-notes.md), and the small encoders the renderers share."""

import hashlib
import json
import re
import time
import unicodedata
import zlib

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
