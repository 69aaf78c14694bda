"""Example script for the vetting REST API, using only ``requests``.

It pulls the candidates the model is least sure about, labels them with a rule of your own,
triggers a retrain and waits for it (polling), then prints the new model's metrics.

    export VETTING_URL=http://localhost:8000
    export VETTING_TOKEN=$(python manage.py create_api_token carla)   # a curator's token
    python examples/vetting_client.py --limit 10 --dry-run             # look first
    python examples/vetting_client.py --limit 10                       # label + retrain

The labelling rule here (``choose_label``) is deliberately simple: a real script would run its
own vetting code on the light curve from ``/api/candidates/{id}/lightcurve/``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import requests


class ApiError(RuntimeError):
    """An API error with the server's code and message (``{"error": {...}}`` bodies)."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.fields = status, code, fields or {}


class VettingClient:
    """A thin wrapper: token auth, JSON errors raised as :class:`ApiError`, cursor pagination."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        self.timeout = timeout

    def request(self, method: str, path: str, **kwargs):
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        for attempt in range(5):
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            if response.status_code == 429:  # throttled: wait as told, then retry
                time.sleep(float(response.headers.get("Retry-After", 2 ** attempt)))
                continue
            break
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
            raise ApiError(response.status_code, error["code"], error["message"], error.get("fields"))
        return response.json() if response.content else None

    def get(self, path: str, **params):
        return self.request("GET", path, params=params)

    def post(self, path: str, payload: dict | None = None):
        return self.request("POST", path, json=payload or {})

    def iterate(self, path: str, **params):
        """Every item of a cursor-paginated list, page by page."""
        page = self.get(path, **params)
        while True:
            yield from page["results"]
            if not page["next"]:
                return
            page = self.request("GET", page["next"])

    # --- the calls this script uses ---------------------------------------------------------

    def me(self) -> dict:
        return self.get("/api/me/")

    def uncertain_candidates(self, limit: int) -> list[dict]:
        """Unlabeled-by-me candidates the active model is least sure about."""
        items = []
        for item in self.iterate("/api/candidates/", ordering="-uncertainty", labeled_by_me="false",
                                 page_size=min(limit, 100)):
            items.append(item)
            if len(items) >= limit:
                break
        return items

    def label(self, candidate_id: int, label_class: str, *, confidence: float, note: str) -> dict:
        return self.post("/api/labels/", {"candidate": candidate_id, "label_class": label_class,
                                          "confidence": confidence, "note": note})

    def retrain(self) -> dict:
        return self.post("/api/training-runs/")

    def wait_for_run(self, run_id: int, *, poll_s: float = 5.0, timeout_s: float = 3600.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.get(f"/api/training-runs/{run_id}/")
            print(f"  run #{run_id}: {run['state']:<8} {run['progress']:5.0%} {run['message']}", flush=True)
            if run["state"] in ("finished", "failed"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"training run #{run_id} still {run['state']} after {timeout_s:.0f} s")
            time.sleep(poll_s)


def choose_label(candidate: dict) -> tuple[str, float, str] | None:
    """A toy rule on catalog columns: (class, confidence, note), or None to skip the candidate."""
    depth, radius = candidate.get("depth_ppm"), candidate.get("planet_radius_rearth")
    if radius is not None and radius > 25:
        return "EB", 0.7, f"radius {radius:.0f} R_earth is stellar"
    if depth is not None and depth > 50000:
        return "EB", 0.6, f"depth {depth:.0f} ppm too deep for a planet"
    if candidate.get("p_planet") is not None and candidate["p_planet"] > 0.8:
        return "PC", 0.6, "model and depth agree"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="Label uncertain candidates, retrain, wait.")
    parser.add_argument("--url", default=os.environ.get("VETTING_URL", "http://localhost:8000"))
    parser.add_argument("--token", default=os.environ.get("VETTING_TOKEN"))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--dry-run", action="store_true", help="show what would be labeled, change nothing")
    parser.add_argument("--no-retrain", action="store_true")
    args = parser.parse_args()
    if not args.token:
        parser.error("give --token or set VETTING_TOKEN (manage.py create_api_token USERNAME)")

    client = VettingClient(args.url, args.token)
    try:
        me = client.me()
        print(f"signed in as {me['username']} ({', '.join(me['roles']) or 'no role'})")
        candidates = client.uncertain_candidates(args.limit)
        print(f"{len(candidates)} uncertain candidates")
        labeled = 0
        for cand in candidates:
            decision = choose_label(cand)
            p = "-" if cand["p_planet"] is None else f"{cand['p_planet']:.2f}"
            if decision is None:
                print(f"  skip  {cand['catalog_id']:<16} p_planet={p}")
                continue
            label_class, confidence, note = decision
            print(f"  {label_class:<5} {cand['catalog_id']:<16} p_planet={p}  ({note})")
            if not args.dry_run:
                client.label(cand["id"], label_class, confidence=confidence, note=note)
                labeled += 1
        print(f"labeled {labeled}")
        if args.dry_run or args.no_retrain:
            return 0
        run = client.retrain()
        print(f"retrain requested: run #{run['id']} ({run['state']})")
        run = client.wait_for_run(run["id"])
        if run["state"] == "failed":
            print(f"training failed: {run['error']}", file=sys.stderr)
            return 1
        version = run["classifier_version"]
        if version:
            details = client.get(f"/api/classifier-versions/{version['id']}/")
            metrics = ", ".join(f"{k}={v:.3f}" for k, v in sorted(details["metrics"].items())
                                if isinstance(v, (int, float)))
            print(f"new version {version['name']} ({version['status']}): {metrics}")
        return 0
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for field, messages in exc.fields.items():
            print(f"  {field}: {messages}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
