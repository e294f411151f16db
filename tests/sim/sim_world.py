"""sim_world.py - the simulated world: every listing and seller ever created, deterministic
from the seed, its clock, its life cycle (ticks, bumps, sold/reserved/removed), search with the
960-result cap, and the truth a correct pipeline must have stored. How a listing is shown
in each API is sim_render.py."""

import random

from sim_facts import (
    ADJECTIVES, AWKWARD_TITLES, BAD_RULES, BRANDS, CATALOG_KNOWN, CATALOG_ROOTS,
    CATALOG_SCAFFOLD, CONDITIONS, CONDITION_WEIGHTS, COUNTRY, CURRENCY_SCALE, DEFAULT_EPOCH,
    DEFAULT_NOUNS, HOSTILE_CASES, HOSTILE_SELLER, MAX_RESULTS, NOUNS, PHOTO_SIZES, SHOE_SIZES,
    SITE_CURRENCY, SITE_LANG, SIZES, money2, printable)
from sim_render import WorldRender

# --------------------------------------------------------------------------
# The world: every listing ever created, deterministic from the seed


class World(WorldRender):
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
