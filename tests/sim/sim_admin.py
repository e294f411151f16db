"""sim_admin.py - the /_sim/ admin API by which tests steer the simulator (new listings, bumps,
life cycle, faults, market mode) and read back the truth (a mix-in of Handler, sim_http.py)."""

import json

from sim_facts import HOSTILE_CASES, PHOTO_SIZES
from sim_state import Faults
from sim_world import World


class AdminRoutes:
    """The /_sim/ endpoints; self is the request handler."""

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
