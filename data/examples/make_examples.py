"""Write the two made-up example exports of this folder (run from the checkout: python data/examples/make_examples.py).

Nothing here is real data: customers, products and prices are drawn from a seeded random generator, so the files
are the same on every run. They exist so that every example of the README runs on a fresh clone.

- ``online_retail_II_example.csv``: the column layout of the UCI "Online Retail II" export (Invoice, StockCode,
  Description, Quantity, InvoiceDate, Price, Customer ID, Country; ids written as ``13085.0`` as that data set's
  CSV copies write them), with the quirks of the real export: cancelled invoices (``C`` prefix, negative
  quantities), lines without a customer id, one line repeated.
- ``kunden_export.csv``: a German CRM export (``;`` separated, ``Kunde;Datum;Betrag`` with ``21.05.2024`` dates and
  ``1.234,50`` amounts), read with ``--sep ';' --map Kunde=customer_id --map Datum=date --map Betrag=amount``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PRODUCTS = [("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55), ("22423", "REGENCY CAKESTAND 3 TIER", 12.75),
            ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 1.69), ("47566", "PARTY BUNTING", 4.95),
            ("20725", "LUNCH BAG RED RETROSPOT", 1.65), ("22720", "SET OF 3 CAKE TINS PANTRY DESIGN", 4.95),
            ("21212", "PACK OF 72 RETROSPOT CAKE CASES", 0.55), ("85099B", "JUMBO BAG RED RETROSPOT", 2.08)]
COUNTRIES = ["United Kingdom"] * 6 + ["Germany", "France", "EIRE", "Netherlands"]


def online_retail(rng: np.random.Generator, n_customers: int = 80) -> pd.DataFrame:
    rows, invoice = [], 489434
    start, end = pd.Timestamp("2023-01-02"), pd.Timestamp("2024-12-20")
    for c in range(n_customers):
        customer = 12346 + 17 * c
        country = COUNTRIES[rng.integers(len(COUNTRIES))]
        first = start + pd.Timedelta(days=int(rng.integers(0, 540)))
        n_orders = 1 + rng.poisson(3)
        days = sorted(rng.integers(0, max(1, (end - first).days), size=n_orders))
        for d in days:
            when = first + pd.Timedelta(days=int(d), hours=int(rng.integers(8, 18)), minutes=int(rng.integers(60)))
            invoice += 1
            for k in rng.choice(len(PRODUCTS), size=1 + rng.integers(4), replace=False):  # distinct lines
                code, text, price = PRODUCTS[k]
                rows.append([str(invoice), code, text, int(rng.choice([1, 2, 4, 6, 12, 24])),
                             when.strftime("%Y-%m-%d %H:%M:%S"), price, f"{customer}.0", country])
    frame = pd.DataFrame(rows, columns=["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                                        "Customer ID", "Country"])
    cancelled = frame.sample(4, random_state=1).copy()  # cancellations: C + invoice, negative quantity
    cancelled["Invoice"] = "C" + cancelled["Invoice"]
    cancelled["Quantity"] = -cancelled["Quantity"]
    no_customer = frame.sample(3, random_state=2).copy()  # till sales without a customer id
    no_customer["Customer ID"] = ""
    repeated = frame.sample(1, random_state=3)  # one line exported twice
    frame = pd.concat([frame, cancelled, no_customer, repeated]).sort_values(["InvoiceDate", "Invoice"], kind="stable")
    return frame.reset_index(drop=True)


def kunden(rng: np.random.Generator, n_customers: int = 40) -> list[list[str]]:
    rows = []
    for c in range(n_customers):
        first = pd.Timestamp("2023-02-01") + pd.Timedelta(days=int(rng.integers(0, 400)))
        for d in sorted(rng.integers(0, 600 - (first - pd.Timestamp("2023-02-01")).days, size=1 + rng.poisson(2))):
            amount = float(np.round(rng.gamma(2.0, 60.0), 2)) + (1000 if rng.random() < 0.05 else 0)
            text = f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
            rows.append([f"K{1000 + c}", (first + pd.Timedelta(days=int(d))).strftime("%d.%m.%Y"), text])
    return rows


def main() -> None:
    rng = np.random.default_rng(2024)
    online_retail(rng).to_csv(HERE / "online_retail_II_example.csv", index=False)
    with open(HERE / "kunden_export.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=";")
        writer.writerow(["Kunde", "Datum", "Betrag"])
        writer.writerows(kunden(rng))


if __name__ == "__main__":
    main()
