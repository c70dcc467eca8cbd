"""Unit test of the python job's pure logic; `sluice check` runs it with pytest."""

import importlib.util
from pathlib import Path

import pandas as pd

spec = importlib.util.spec_from_file_location(
    "product_sales", Path(__file__).parents[1] / "jobs" / "product_sales.py")
assert spec is not None and spec.loader is not None
product_sales = importlib.util.module_from_spec(spec)
spec.loader.exec_module(product_sales)


def test_cancelled_orders_do_not_count() -> None:
    orders = pd.DataFrame({"product_id": [1, 1, 2], "quantity": [2, 5, 1],
                           "amount": [10.0, 25.0, 3.0],
                           "status": ["placed", "cancelled", "shipped"]})
    products = pd.DataFrame({"product_id": [1, 2, 3], "product": ["a", "b", "c"]})
    out = product_sales.summarise(orders, products).set_index("product_id")
    assert out.loc[1, "units"] == 2 and out.loc[1, "revenue"] == 10.0
    assert out.loc[3, "units"] == 0
