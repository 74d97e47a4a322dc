"""A small demo sales database (SQLite) for trying the data tools: `python -m bot.connectors.demo PATH`.

Deterministic (a fixed seed): four regions, twelve products in three categories, 400 customers and
about 19,000 orders from 2025-01-01 to 2026-09-30 (seven full quarters). The regions grow at different rates, so "which
region grew fastest last quarter?" has a clear answer: the North, in 2026 Q3 over Q2. Tests and the README's worked
example rely on that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
from pathlib import Path

SEED = 20261204
END = dt.date(2026, 9, 30)
REGIONS = [("N", "North", 0.15), ("S", "South", 0.01), ("E", "East", 0.04), ("W", "West", -0.03)]
PRODUCTS = [
    ("Espresso beans 1kg", "Coffee", 24.0),
    ("Filter beans 1kg", "Coffee", 19.5),
    ("Decaf beans 500g", "Coffee", 12.0),
    ("Cold brew concentrate", "Coffee", 9.0),
    ("Hand grinder", "Equipment", 79.0),
    ("Pour-over kit", "Equipment", 45.0),
    ("Espresso machine", "Equipment", 249.0),
    ("Milk frother", "Equipment", 39.0),
    ("Green tea 250g", "Tea", 11.0),
    ("Black tea 250g", "Tea", 9.5),
    ("Chai blend 250g", "Tea", 12.5),
    ("Tea infuser", "Tea", 8.0),
]
# Expensive equipment sells rarely, so one machine more or less does not swing a quarter.
WEIGHTS = [10, 10, 6, 8, 2, 4, 0.05, 4, 8, 8, 7, 6]
SCHEMA = """
CREATE TABLE regions (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region_id TEXT NOT NULL REFERENCES regions(id),
                        joined_on TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                     product_id INTEGER NOT NULL REFERENCES products(id), ordered_on TEXT NOT NULL,
                     quantity INTEGER NOT NULL, amount REAL NOT NULL);
CREATE INDEX ix_orders_date ON orders(ordered_on);
CREATE VIEW sales_by_region_month AS
  SELECT c.region_id, substr(o.ordered_on, 1, 7) AS month, round(sum(o.amount), 2) AS revenue, count(*) AS orders
  FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY 1, 2;
"""
FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Eva",
    "Farid",
    "Grace",
    "Hugo",
    "Iris",
    "Jonas",
    "Kemal",
    "Lena",
]
LAST_NAMES = ["Berg", "Costa", "Dubois", "Ek", "Fischer", "Garcia", "Haas", "Ito", "Jensen", "Kowalski"]


def build(path: Path) -> Path:
    """Write the demo database to `path` (replacing it)."""
    rng = random.Random(SEED)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(SCHEMA)
        conn.executemany("INSERT INTO regions VALUES (?, ?)", [(r[0], r[1]) for r in REGIONS])
        conn.executemany(
            "INSERT INTO products (id, name, category, price) VALUES (?, ?, ?, ?)",
            [(i + 1, *p) for i, p in enumerate(PRODUCTS)],
        )
        start = dt.date(2025, 1, 1)
        customers = []
        for cid in range(1, 401):
            region = REGIONS[(cid - 1) % len(REGIONS)][0]
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            joined = start + dt.timedelta(days=rng.randrange(0, 300))
            customers.append((cid, name, region, joined.isoformat()))
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", customers)
        growth = {r[0]: r[2] for r in REGIONS}
        by_region = {r[0]: [c for c in customers if c[2] == r[0]] for r in REGIONS}
        orders = []
        oid = 0
        day = start
        while day <= END:
            quarter = (day.year - 2025) * 4 + (day.month - 1) // 3
            for region, members in by_region.items():
                # Each region's daily order rate compounds by its quarterly growth.
                rate = 12.0 * (1 + growth[region]) ** quarter
                # Dithered, not Poisson: the trend should be the story, not the noise.
                for _ in range(int(rate + rng.random())):
                    oid += 1
                    customer = rng.choice(members)
                    pid = rng.choices(range(1, len(PRODUCTS) + 1), weights=WEIGHTS)[0]
                    qty = 1 + int(rng.random() < 0.3) + int(rng.random() < 0.1)
                    amount = round(PRODUCTS[pid - 1][2] * qty * rng.uniform(0.9, 1.0), 2)
                    orders.append((oid, customer[0], pid, day.isoformat(), qty, amount))
            day += dt.timedelta(days=1)
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", orders)
        conn.commit()
    finally:
        conn.close()
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "path", nargs="?", default="data/demo.db", help="where to write it (default data/demo.db)"
    )
    args = parser.parse_args()
    print(f"wrote {build(Path(args.path))}")


if __name__ == "__main__":
    main()
