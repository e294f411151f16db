"""sim_render.py - how the world's listings look on the wire: v2 and svc catalog items, seller
items and profiles, public item pages with JSON-LD, photos and CDN URLs (a mix-in of World,
sim_world.py)."""

import hashlib
import html
import uuid

from sim_facts import (
    CDN_HOST, COUNTRY_IDS, iso_local, json_for_script, money2, money_str, sig, slugify, zlib_crc)


ITEM_HTML = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Vinted</title>
<meta property="og:title" content="{title}"><meta property="og:image" content="{image}">
<script type="application/ld+json">{crumbs}</script>
<script type="application/ld+json">{product}</script>
</head><body><div id="__next"><h1>{title}</h1></div></body></html>
"""


class WorldRender:
    """The renderers of World; they read its state and never draw from its RNG."""


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
