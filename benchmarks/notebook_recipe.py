"""The classic notebook recipe, kept only as the benchmark's point of comparison.

Group by customer (sum of spend, count of lines, min recency, mean unit price),
StandardScaler, elbow for k = 2..9, KMeans(4, random_state=42). It sums
cancellations into spend, which is one of the reasons this project exists.
Usage: python benchmarks/notebook_recipe.py FILE
"""

from __future__ import annotations

import sys

import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler


def main(path: str) -> None:
    df = pd.read_csv(path, dtype={"Customer ID": str, "Invoice": str, "StockCode": str})
    df = df.dropna(subset=["Customer ID"])
    df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"])
    df["Spend"] = df["Quantity"] * df["Price"]
    snapshot = df["InvoiceDate"].max()
    customers = df.groupby("Customer ID").agg(
        PurchaseAmount=("Spend", "sum"),
        PurchaseFrequency=("Invoice", "count"),
        Recency=("InvoiceDate", lambda s: (snapshot - s.max()).days),
        AvgUnitCost=("Price", "mean"),
    )
    X = StandardScaler().fit_transform(customers)
    inertia = [KMeans(k, random_state=42, n_init=10).fit(X).inertia_ for k in range(2, 10)]
    labels = KMeans(4, random_state=42, n_init=10).fit_predict(X)
    sizes = sorted(pd.Series(labels).value_counts().tolist(), reverse=True)
    print(f"notebook recipe: {len(customers)} customers, cluster sizes {sizes}, elbow inertia {inertia[:3]}...")


if __name__ == "__main__":
    main(sys.argv[1])
