"""Load benchmark of the sales REST API: 5-line sales orders created and confirmed over HTTP by
concurrent clients against a real server running the production settings.

Usage (a fresh database each run: PostgreSQL `xt_bench_sales_api`, dropped afterwards unless
`--keep`; SQLite the file `bench.sqlite3` under /tmp/xt-bench-sales-api):

    .venv/bin/python benchmarks/bench_sales_api.py --db postgres --seconds 60
    .venv/bin/python benchmarks/bench_sales_api.py --db sqlite --seconds 60
    .venv/bin/python benchmarks/bench_sales_api.py --db postgres --server prefork --workers 2
    .venv/bin/python benchmarks/bench_sales_api.py --db postgres --profile 30   # no server

The PostgreSQL server is taken from DATABASE_URL when it is set (the database name is replaced),
else postgres://postgres@127.0.0.1:5432.

Issue target: at least 200 orders per second with a p95 under 100 ms and no errors on PostgreSQL,
under 20 concurrent clients; SQLite reported too.

What runs. The database is migrated, then a company is set up through the services (not
timed): the PRC chart with 13 % VAT as the default sales tax, moving-average valuation, one
warehouse (one-step delivery), a default price list, `--products` (200) stocked products with
10,000 units each, `--customers` (100) customers without credit limit, and a user with the
predefined role *sales representative* and an API token. Then the server starts as a separate
process with `DJANGO_SETTINGS_MODULE=xietong.settings_production` (DEBUG off, the production
middleware; requests carry `X-Forwarded-Proto: https` as a TLS-terminating proxy would send):

- `--server serve` (default): `xietong serve`, the project's server (Django's threaded WSGI
  server, one process);
- `--server prefork --workers N`: the same threaded WSGI server and application, forked into N
  processes accepting on one socket, with `TCP_NODELAY` on the connections (what a
  pre-forking server such as gunicorn with threads would do; none is a dependency of the
  project).

Before the load, the median of 20 `GET /api/v1/me` over one connection is printed: the fixed
cost of a request (server, authentication) without any write.

`--clients` (20) threads, each with its own keep-alive connection (`http.client`), POST
`/api/v1/sales/orders` with `confirm: true`, 5 distinct random products (1–3 units each, priced
by the price list), a random customer and a fresh `Idempotency-Key`, one request after the other,
for `--warmup` (5) + `--seconds` (30) seconds. Orders per second: 201 answers completed within
the measured window; p50 / p95 / p99 / max latency and errors: every request started within it
(each client finishes the request it is in when the window closes). After the run the database
is checked: as many confirmed orders as 201 answers, each with a delivery.

`--profile N` skips the server: orders are created through Django's test client in this
process (production settings, same data); prints the SQL statements of one request grouped by
kind and table, the median time and CPU of N orders without the profiler, and the top
functions of N more under cProfile. The server's log is
`server-<db>-<server>-<clients>.log` in /tmp/xt-bench-sales-api.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import http.client
import io
import json
import os
import pstats
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VAR_DIR = Path("/tmp/xt-bench-sales-api")  # noqa: S108 (the brief's fixed place)
PG_NAME = os.environ.get("XT_BENCH_PG_NAME", "xt_bench_sales_api")
SEED = 7
D = Decimal


def configure(db: str) -> None:
    """The environment of this process and of the server: production settings, the bench
    database, a throw-away secret key."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["XIETONG_VAR_DIR"] = str(VAR_DIR)
    os.environ["DJANGO_SETTINGS_MODULE"] = "xietong.settings_production"
    os.environ.setdefault("XIETONG_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ["XIETONG_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ["XIETONG_LOG_LEVEL"] = "WARNING"
    if db == "postgres":
        base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
        if not base.startswith("postgres"):
            base = "postgres://postgres@127.0.0.1:5432/postgres"
        os.environ["DATABASE_URL"] = urlunsplit(urlsplit(base)._replace(path=f"/{PG_NAME}"))
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{VAR_DIR / 'bench.sqlite3'}"


def database_fresh(db: str) -> None:
    if db == "postgres":
        import psycopg

        admin = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_NAME}")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{VAR_DIR / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)


def database_drop(db: str) -> None:
    if db == "postgres":
        import psycopg

        admin = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")


def setup(*, products: int, customers: int) -> dict[str, Any]:
    """The company, its ledger, warehouse, stocked products, customers and a sales rep's API
    token, through the services."""
    from django.utils import timezone

    from xietong.core.models import UnitOfMeasure
    from xietong.core.services import api_token_create, company_create, user_create
    from xietong.core.tenancy import company_scope
    from xietong.finance.charts import chart_load
    from xietong.finance.models import Tax
    from xietong.inventory import stock
    from xietong.inventory.models import Location
    from xietong.inventory.valuation import valuation_setup
    from xietong.inventory.warehouses import virtual_locations, warehouse_create
    from xietong.party.services import party_create
    from xietong.product import pricing
    from xietong.product.services import product_create
    from xietong.sales.common import sales_settings

    rng = random.Random(SEED)  # noqa: S311
    company = company_create(name="Bench Sales API", legal_name="Bench Sales API Ltd",
                             base_currency="CNY", country="CN")  # fmt: skip
    with company_scope(company):
        chart_load(company=company, template="cn")
        valuation_setup(company=company)
        warehouse = warehouse_create(company=company, code="SH", name="Shanghai")
        pricing.price_list_create(company=company, actor=None, name="Standard",
                                  currency=company.base_currency_id, is_default=True)  # fmt: skip
        settings = sales_settings(company)
        settings.default_tax = Tax.unscoped.get(company=company, code="VAT13-S")
        settings.warehouse = warehouse
        settings.save()
        user = user_create(company=company, username="bench-rep", password=None,
                           roles=["sales_rep"], validate=False)  # fmt: skip
        _token, raw = api_token_create(user=user, company=company, name="bench")
        pc = UnitOfMeasure.objects.get(code="pc")
        made = [
            product_create(company=company, actor=None, sku=f"B{n:05d}", name=f"Item {n}",
                           uom=pc, list_price=D(rng.randint(1000, 200_000)) / 100)
            for n in range(products)
        ]  # fmt: skip
        supplier = virtual_locations(company=company)[Location.Usage.SUPPLIER]
        moves = [
            stock.move_create(
                company=company, product=product, quantity=D(10_000), from_location=supplier,
                to_location=warehouse.stock_location, planned_date=timezone.localdate(),
                unit_cost=(product.list_price * D("0.6")).quantize(D("0.01")),
            )
            for product in made
        ]  # fmt: skip
        for start in range(0, len(moves), 200):
            stock.moves_done(moves=moves[start : start + 200])
        parties = [
            party_create(company=company, actor=None, name=f"Customer {n:04d}",
                         is_customer=True, allow_duplicate=True).pk
            for n in range(customers)
        ]  # fmt: skip
    return {
        "company": company,
        "token": raw,
        "products": [p.pk for p in made],
        "parties": parties,
    }


def order_body(rng: random.Random, ctx: dict[str, Any], lines: int) -> dict[str, Any]:
    return {
        "party": rng.choice(ctx["parties"]),
        "confirm": True,
        "lines": [
            {"product": pk, "quantity": str(rng.randint(1, 3))}
            for pk in rng.sample(ctx["products"], lines)
        ],
    }


# --- server -------------------------------------------------------------------------------------


def serve_prefork(addrport: str, workers: int) -> None:
    """Django's threaded WSGI server with the project's application, forked into `workers`
    processes that accept on one listening socket. Runs until SIGTERM."""
    import django

    django.setup()
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    class Handler(WSGIRequestHandler):
        # TCP_NODELAY, as production servers set it: without it the response's headers and
        # body leave in two segments and the second waits for the client's delayed ACK (~40 ms)
        disable_nagle_algorithm = True

    host, port = addrport.rsplit(":", 1)
    application = get_wsgi_application()
    server = ThreadedWSGIServer((host, int(port)), Handler)
    server.set_app(application)
    connections.close_all()
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            server.serve_forever()
            os._exit(0)
        children.append(pid)

    def stop(*_args: Any) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    for pid in children:
        os.waitpid(pid, 0)


def server_start(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    addrport = f"127.0.0.1:{args.port}"
    if args.server == "serve":
        command = [sys.executable, "-m", "xietong.cli", "serve", addrport]
    else:
        command = [sys.executable, __file__, "--serve-prefork", addrport,
                   "--workers", str(args.workers)]  # fmt: skip
    log = (VAR_DIR / f"server-{args.db}-{args.server}-{args.clients}.log").open("wb")
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def server_wait(port: int, token: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/me", headers=_headers(token))
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer within {timeout:.0f} s; see its log in {VAR_DIR}")


def baseline(port: int, token: str, n: int = 20) -> float:
    """Median milliseconds of `GET /api/v1/me` (authentication and permissions, no write) over
    one keep-alive connection: what every request pays before the order."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        conn.request("GET", "/api/v1/me", headers=_headers(token))
        conn.getresponse().read()
        timings.append((time.perf_counter() - started) * 1000)
    conn.close()
    return statistics.median(timings)


def server_stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "X-Forwarded-Proto": "https",  # as the TLS-terminating proxy of production sends it
        "Accept": "application/json",
    }


# --- load ---------------------------------------------------------------------------------------


class Client(threading.Thread):
    """One client: a keep-alive connection, one order after the other until `end`."""

    def __init__(self, n: int, args: argparse.Namespace, ctx: dict[str, Any], end: float):
        super().__init__(daemon=True)
        self.rng = random.Random(SEED * 1000 + n)  # noqa: S311
        self.args, self.ctx, self.end = args, ctx, end
        self.results: list[tuple[float, float, str]] = []  # (start, end, outcome)
        self.samples: list[str] = []

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while time.perf_counter() < self.end:
            body = json.dumps(order_body(self.rng, self.ctx, self.args.lines))
            headers = {**_headers(self.ctx["token"]), "Content-Type": "application/json",
                       "Idempotency-Key": str(uuid.uuid4())}  # fmt: skip
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=120)
                conn.request("POST", "/api/v1/sales/orders", body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
                outcome = str(response.status)
                if response.status != 201 and len(self.samples) < 3:
                    self.samples.append(f"{response.status}: {content[:300]!r}")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                outcome = f"connection: {type(exc).__name__}"
                if len(self.samples) < 3:
                    self.samples.append(f"{outcome}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
            self.results.append((started, time.perf_counter(), outcome))
        if conn is not None:
            conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def load(args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    begin = time.perf_counter()
    measured_from = begin + args.warmup
    end = measured_from + args.seconds
    clients = [Client(n, args, ctx, end) for n in range(args.clients)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    results = [r for c in clients for r in c.results]
    # throughput: answers completed inside the window; latency: every request started inside
    # it (the clients finish the request they are in at the end, so slow ones are not lost)
    done = [r for r in results if measured_from <= r[1] <= end]
    started = [r for r in results if measured_from <= r[0] < end]
    ok = [(e - s) * 1000 for s, e, outcome in started if outcome == "201"]
    errors = Counter(outcome for _s, _e, outcome in started if outcome != "201")
    return {
        "created": sum(1 for _s, _e, outcome in results if outcome == "201"),
        "requests": len(started),
        "ok": len(ok),
        "per_second": sum(1 for r in done if r[2] == "201") / args.seconds,
        "p50": percentile(ok, 50),
        "p95": percentile(ok, 95),
        "p99": percentile(ok, 99),
        "max": max(ok, default=float("nan")),
        "mean": statistics.fmean(ok) if ok else float("nan"),
        "errors": dict(errors),
        "error_samples": [s for c in clients for s in c.samples][:5],
    }


def check(ctx: dict[str, Any], created: int) -> str:
    """As many confirmed orders as 201 answers, each with its delivery picking."""
    from django.db import connections

    from xietong.core.tenancy import company_scope
    from xietong.inventory.models import Picking
    from xietong.sales.models import SalesOrder

    connections.close_all()
    with company_scope(ctx["company"]):
        orders = SalesOrder.objects.count()
        confirmed = SalesOrder.objects.filter(state=SalesOrder.State.CONFIRMED).count()
        deliveries = Picking.objects.filter(source_type="sales.order").count()
    verdict = "ok" if orders == confirmed == deliveries == created else "MISMATCH"
    return (f"{orders} orders in the database, {confirmed} confirmed, {deliveries} deliveries, "
            f"{created} answered 201: {verdict}")  # fmt: skip


# --- profile ------------------------------------------------------------------------------------

_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.I)


def profile(args: argparse.Namespace, ctx: dict[str, Any]) -> None:
    """N orders through Django's test client in this process, under cProfile."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    client = TestClient(headers={"Authorization": f"Bearer {ctx['token']}"})
    rng = random.Random(SEED)  # noqa: S311

    def one() -> None:
        response = client.post(
            "/api/v1/sales/orders", json.dumps(order_body(rng, ctx, args.lines)),
            content_type="application/json", secure=True,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )  # fmt: skip
        assert response.status_code == 201, response.content

    for _ in range(5):
        one()
    with CaptureQueriesContext(connection) as captured:
        one()
    kinds = Counter()
    for query in captured.captured_queries:
        sql = query["sql"]
        verb = sql.split(None, 1)[0].upper()
        table = _TABLE.search(sql)
        kinds[f"{verb} {table.group(1) if table else ''}".strip()] += 1
    print(f"--- one request: {len(captured)} SQL statements ---")
    for kind, count in kinds.most_common(25):
        print(f"{count:4d}  {kind}")
    timings = []
    cpu = time.process_time()
    for _ in range(args.profile):
        began = time.perf_counter()
        one()
        timings.append((time.perf_counter() - began) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / args.profile
    print(f"--- {args.profile} orders one after the other, no profiler: median "
          f"{statistics.median(timings):.0f} ms, min {min(timings):.0f} ms; CPU of this "
          f"process {cpu:.0f} ms per order (the rest: waiting for the database) ---")  # fmt: skip
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(lambda: [one() for _ in range(args.profile)])
    elapsed = time.perf_counter() - started
    print(f"--- {args.profile} orders in {elapsed:.2f} s under cProfile: "
          f"{elapsed / args.profile * 1000:.1f} ms per order ---")  # fmt: skip
    path = VAR_DIR / "profile.prof"
    profiler.dump_stats(path)
    for key, title, where, top in (
        ("cumulative", "cumulative time, xietong code", "xietong", 40),
        ("tottime", "own time", "", 25),
    ):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(
            *([where] if where else []), top
        )
        text = out.getvalue()
        text = text[text.index("   ncalls") :] if "   ncalls" in text else text
        print(f"--- top {top} by {title} (stats in {path}) ---")
        print(text.replace(str(ROOT) + "/", "").rstrip())


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--seconds", type=float, default=30, help="measured window")
    parser.add_argument("--warmup", type=float, default=5, help="seconds not measured")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--server", choices=["serve", "prefork"], default="serve")
    parser.add_argument("--workers", type=int, default=2, help="processes (--server prefork)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile N orders in-process instead of the load test")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--serve-prefork", metavar="ADDRPORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_prefork:
        serve_prefork(args.serve_prefork, args.workers)
        return

    configure(args.db)
    database_fresh(args.db)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter() - started
    ctx = setup(products=args.products, customers=args.customers)
    print(f"{connection.vendor} database {connection.settings_dict['NAME']}: migrated in "
          f"{migrated:.0f} s, set up in {time.perf_counter() - started - migrated:.0f} s "
          f"({args.products} products, {args.customers} customers); "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    connections.close_all()
    try:
        if args.profile:
            profile(args, ctx)
            return
        process = server_start(args)
        try:
            server_wait(args.port, ctx["token"])
            me = baseline(args.port, ctx["token"])
            print(f"server: {args.server}"
                  + (f" ({args.workers} processes)" if args.server == "prefork" else "")
                  + f"; {args.clients} clients, {args.lines}-line orders confirmed at once, "
                  f"{args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured; "
                  f"GET /api/v1/me alone: {me:.0f} ms")  # fmt: skip
            result = load(args, ctx)
            load_after = os.getloadavg()[0]
        finally:
            server_stop(process)
        print(f"orders/s {result['per_second']:.1f}  ({result['requests']} requests started in "
              f"the window, {result['requests'] - result['ok']} errors)")  # fmt: skip
        print(f"latency ms: p50 {result['p50']:.0f}  p95 {result['p95']:.0f}  "
              f"p99 {result['p99']:.0f}  max {result['max']:.0f}  mean {result['mean']:.0f}")  # fmt: skip
        print(f"errors: {result['errors'] or 'none'}; load average after {load_after:.1f}")
        for sample in result["error_samples"]:
            print(f"  e.g. {sample}")
        print(check(ctx, result["created"]))
    finally:
        connections.close_all()
        if args.db == "postgres" and not args.keep:
            database_drop(args.db)


if __name__ == "__main__":
    main()
