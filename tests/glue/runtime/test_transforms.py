"""awsglue.transforms: Glue's transform classes, called the way Glue's scripts call them."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.spark

ORDERS = [
    {"order_id": 1, "customer": {"id": 10, "name": "Ann"}, "amount": "12.5", "note": None,
     "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]},
    {"order_id": 2, "customer": {"id": 11, "name": "Bob"}, "amount": "oops", "note": None,
     "items": [{"sku": "c", "qty": 5}]},
    {"order_id": 3, "customer": {"id": 10, "name": "Ann"}, "amount": 7, "note": None,
     "items": []},
]


def test_star_import_gives_every_transform() -> None:
    namespace: dict[str, Any] = {}
    exec("from awsglue.transforms import *", namespace)
    expected = {"ApplyMapping", "SelectFields", "DropFields", "RenameField", "Filter", "Map",
                "Join", "ResolveChoice", "DropNullFields", "Relationalize",
                "SelectFromCollection", "SplitFields", "UnnestFrame", "MapToCollection",
                "FlatMap", "Spigot"}
    assert expected <= set(namespace)
    from awsglue.transforms import GlueTransform

    assert all(issubclass(namespace[n], GlueTransform) for n in expected)
    assert namespace["ApplyMapping"].name() == "ApplyMapping"


def test_a_generated_script_chain(frame_of: Any) -> None:
    """ApplyMapping → ResolveChoice → DropNullFields, as Glue Studio writes them."""
    from awsglue.transforms import ApplyMapping, DropNullFields, ResolveChoice

    datasource0 = frame_of(ORDERS, "datasource0")
    applymapping1 = ApplyMapping.apply(frame=datasource0, mappings=[
        ("order_id", "long", "order_id", "long"),
        ("customer.id", "long", "customer_id", "int"),
        ("amount", "string", "amount", "string"),
        ("note", "string", "note", "string"),
    ], transformation_ctx="applymapping1")
    resolvechoice2 = ResolveChoice.apply(frame=applymapping1, choice="make_struct",
                                         transformation_ctx="resolvechoice2")
    dropnullfields3 = DropNullFields.apply(frame=resolvechoice2,
                                           transformation_ctx="dropnullfields3")
    df = dropnullfields3.toDF()
    assert df.schema.simpleString() == (
        "struct<order_id:bigint,customer_id:int,"
        "amount:struct<int:int,double:double,string:string>>")
    got = {r["order_id"]: r["amount"].asDict() for r in df.collect()}
    assert got == {1: {"int": None, "double": 12.5, "string": None},
                   2: {"int": None, "double": None, "string": "oops"},
                   3: {"int": 7, "double": None, "string": None}}


def test_field_transforms(frame_of: Any) -> None:
    from awsglue.transforms import DropFields, RenameField, SelectFields, SplitFields

    frame = frame_of(ORDERS, "orders")
    assert SelectFields.apply(frame=frame, paths=["order_id", "customer.name"]).toDF(
        ).schema.simpleString() == "struct<customer:struct<name:string>,order_id:bigint>"
    assert DropFields.apply(frame=frame, paths=["items", "customer", "note"]).toDF(
        ).columns == ["amount", "order_id"]
    renamed = RenameField.apply(frame=frame, old_name="customer.name", new_name="customer.n")
    assert renamed.toDF().schema["customer"].dataType.names == ["id", "n"]
    dfc = SplitFields.apply(frame=frame, paths=["order_id"])
    assert list(dfc.keys()) == ["orders1", "orders2"]
    assert dfc["orders1"].toDF().columns == ["order_id"]
    named = SplitFields.apply(frame, ["order_id"], "ids", "rest")
    assert sorted(named.keys()) == ["ids", "rest"]


def test_filter_and_map(frame_of: Any) -> None:
    from awsglue.transforms import Filter, Map

    frame = frame_of(ORDERS)
    big = Filter.apply(frame=frame, f=lambda r: sum(i["qty"] for i in r["items"]) >= 3)
    assert sorted(r["order_id"] for r in big.toDF().collect()) == [1, 2]

    def total(rec: dict[str, Any]) -> dict[str, Any]:
        rec["qty"] = sum(i["qty"] for i in rec["items"])
        rec["customer"]["vip"] = rec["customer"]["id"] == 10
        return rec

    out = Map.apply(frame=frame, f=total)
    got = {r["order_id"]: (r["qty"], r["customer"]["vip"]) for r in out.toDF().collect()}
    assert got == {1: (3, True), 2: (5, False), 3: (0, True)}


def test_join_as_in_the_legislators_example(frame_of: Any) -> None:
    """``Join.apply(orgs, Join.apply(persons, memberships, 'id', 'person_id'),
    'org_id', 'organization_id').drop_fields(['person_id', 'org_id'])``."""
    from awsglue.transforms import Join

    persons = frame_of([{"id": "p1", "name": "Ann"}, {"id": "p2", "name": "Bob"}])
    memberships = frame_of([{"person_id": "p1", "organization_id": "o1"},
                            {"person_id": "p2", "organization_id": "o2"}])
    orgs = frame_of([{"org_id": "o1", "org_name": "Senate"}])
    history = Join.apply(orgs, Join.apply(persons, memberships, "id", "person_id"),
                         "org_id", "organization_id").drop_fields(["person_id", "org_id"])
    assert [r.asDict() for r in history.toDF().collect()] == [
        {"org_name": "Senate", "id": "p1", "name": "Ann", "organization_id": "o1"}]


def test_relationalize_and_select_from_collection(frame_of: Any) -> None:
    from awsglue.transforms import Relationalize, SelectFromCollection

    dfc = Relationalize.apply(frame=frame_of(ORDERS), staging_path="/tmp/staging")
    assert list(dfc.keys()) == ["roottable", "roottable_items"]
    items = SelectFromCollection.apply(dfc=dfc, key="roottable_items").toDF()
    assert items.columns == ["id", "index", "items.val.qty", "items.val.sku"]
    assert items.count() == 3
    named = Relationalize.apply(frame_of(ORDERS), "/tmp/staging", "orders")
    assert "orders_items" in named


def test_collection_transforms(frame_of: Any) -> None:
    from awsglue.transforms import DropFields, FlatMap, MapToCollection, SplitFields

    dfc = SplitFields.apply(frame_of(ORDERS, "o"), ["order_id", "amount"])
    mapped = MapToCollection.apply(dfc=dfc, callable=lambda f, ctx: f.repartition(1))
    assert sorted(mapped.keys()) == ["o1", "o2"]
    assert all(f.getNumPartitions() == 1 for f in mapped.values())
    flat = FlatMap.apply(dfc=dfc, BaseTransform=DropFields, frame_name="frame",
                         paths=["amount"])
    assert flat["o1"].toDF().columns == ["order_id"]


def test_unnest_and_unsupported_transforms(frame_of: Any) -> None:
    from awsglue._support import GlueUnsupportedError
    from awsglue.transforms import SplitRows, Unbox, Union, UnnestFrame

    flat = UnnestFrame.apply(frame=frame_of(ORDERS))
    assert "customer.name" in flat.toDF().columns
    assert Union.apply(frame1=flat, frame2=flat).count() == 6
    for transform in (Unbox, SplitRows):
        with pytest.raises(GlueUnsupportedError, match=rf"{transform.__name__}.*docs/glue\.md"):
            transform.apply(frame=flat)


def test_the_medicare_data_cleaning_sample(spark: Any) -> None:
    """Glue's data-cleaning sample: field names with spaces, a choice resolved with
    ``cast:long``, a Map that strips dollar signs, and ApplyMapping into nested fields."""
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame(
        [("039 - EXTRACRANIAL", "10001", "AL", "$32963.07"),
         ("039 - EXTRACRANIAL", "ABC", "AL", "$15131.85"),
         ("057 - DEGENERATIVE", "10005", "GA", "$37560.37")],
        "`drg definition` string, `provider id` string, `provider state` string, "
        "`average covered charges` string")
    medicare = DynamicFrame.fromDF(df, None, "medicare")
    medicare_res = medicare.resolveChoice(specs=[("provider id", "cast:long")])
    assert medicare_res.toDF().where("`provider id` IS NULL").count() == 1

    def chop(rec: dict[str, Any]) -> dict[str, Any]:
        rec["average covered charges"] = rec["average covered charges"][1:]
        return rec

    chopped = medicare_res.map(chop)
    nested = chopped.apply_mapping([
        ("drg definition", "string", "drg", "string"),
        ("provider id", "long", "provider.id", "long"),
        ("provider state", "string", "provider.state", "string"),
        ("average covered charges", "string", "charges.covered", "double"),
    ])
    assert nested.toDF().schema.simpleString() == (
        "struct<drg:string,provider:struct<id:bigint,state:string>,"
        "charges:struct<covered:double>>")
    got = sorted((r["provider"]["id"] or 0, r["charges"]["covered"])
                 for r in nested.toDF().collect())
    assert got == [(0, 15131.85), (10001, 32963.07), (10005, 37560.37)]
