"""awsglue.dynamicframe on real Spark: outcomes as AWS Glue's documentation shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

# The legislators example of Glue's documentation, cut down: persons with arrays of
# structs (contact_details), arrays of strings and a nested struct.
PERSONS = [
    {"id": "p1", "given_name": "Mike", "family_name": "Ross",
     "contact_details": [{"type": "fax", "value": "202-225-1314"},
                         {"type": "phone", "value": "202-225-3772"}],
     "links": ["a", "b", "c"], "name": {"first": "Mike", "last": "Ross"}},
    {"id": "p2", "given_name": "Shelley", "family_name": "Capito",
     "contact_details": [{"type": "twitter", "value": "SenCapito"}],
     "links": [], "name": {"first": "Shelley", "last": None}},
    {"id": "p3", "given_name": "Ann", "family_name": "Lee", "contact_details": None,
     "links": None, "name": {"first": "Ann", "last": "Lee"}},
]


def rows(frame: Any, order: str | None = None) -> list[dict[str, Any]]:
    df = frame.toDF()
    if order:
        df = df.orderBy(order)
    return [r.asDict(recursive=True) for r in df.collect()]


# ------------------------------------------------------------------------ looking at it


def test_schema_is_glues_types_and_print_schema_glues_layout(frame_of: Any, capsys: Any) -> None:
    frame = frame_of(PERSONS).select_fields(["contact_details", "id", "name"])
    schema = frame.schema()
    assert [(f.name, f.dataType.typeName()) for f in schema] == [
        ("contact_details", "array"), ("id", "string"), ("name", "struct")]
    assert schema.getField("contact_details").dataType.elementType.typeName() == "struct"
    frame.printSchema()
    assert capsys.readouterr().out == (
        "root\n"
        "|-- contact_details: array\n"
        "|    |-- element: struct\n"
        "|    |    |-- type: string\n"
        "|    |    |-- value: string\n"
        "|-- id: string\n"
        "|-- name: struct\n"
        "|    |-- first: string\n"
        "|    |-- last: string\n")


def test_show_prints_records_as_json(frame_of: Any, capsys: Any) -> None:
    frame_of([{"id": 1, "n": {"a": "x"}}, {"id": 2, "n": None}]).show(1)
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [{"id": 1, "n": {"a": "x"}}]


def test_count_partitions_and_no_error_records(frame_of: Any) -> None:
    frame = frame_of(PERSONS, "persons")
    assert frame.count() == 3
    assert frame.repartition(3).getNumPartitions() == 3
    assert frame.repartition(3).coalesce(1).getNumPartitions() == 1
    assert frame.coalesce(4, shuffle=True).getNumPartitions() == 4
    assert frame.errorsCount() == 0 and frame.stageErrorsCount() == 0
    frame.assertErrorThreshold()


# ------------------------------------------------------------------------ fields


def test_apply_mapping_renames_casts_nests_and_drops_the_rest(frame_of: Any) -> None:
    frame = frame_of([{"ID": "7", "name": {"first": "Ann"}, "price": "1.5", "junk": 1},
                      {"ID": "x", "name": {"first": "Bob"}, "price": "2", "junk": 2}])
    out = frame.apply_mapping([
        ("id", "string", "person.id", "int"),            # case-insensitive source
        ("name.first", "string", "person.given", "string"),
        ("price", "string", "price", "double"),
        ("missing", "string", "nothing", "string"),       # no source: no field
    ])
    assert out.toDF().schema.simpleString() == (
        "struct<person:struct<id:int,given:string>,price:double>")
    assert rows(out, "price") == [{"person": {"id": 7, "given": "Ann"}, "price": 1.5},
                                  {"person": {"id": None, "given": "Bob"}, "price": 2.0}]


def test_apply_mapping_case_sensitive_and_backticks(frame_of: Any, spark: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame

    df = spark.createDataFrame([(1, 2)], "`a.b` int, Up int")
    frame = DynamicFrame.fromDF(df, None, "t")
    out = frame.apply_mapping([("`a.b`", "int", "ab", "long"), ("up", "int", "up", "int")],
                              case_sensitive=True)
    assert rows(out) == [{"ab": 1}]
    assert out.toDF().schema.simpleString() == "struct<ab:bigint>"


def test_select_drop_and_rename_nested_fields(frame_of: Any) -> None:
    frame = frame_of(PERSONS)
    selected = frame.select_fields(["id", "name.last"])
    assert selected.toDF().schema.simpleString() == "struct<id:string,name:struct<last:string>>"
    dropped = frame.drop_fields(["name.last", "links", "contact_details", "nope"])
    assert dropped.toDF().schema.simpleString() == (
        "struct<family_name:string,given_name:string,id:string,name:struct<first:string>>")
    renamed = frame.rename_field("name.first", "name.given").rename_field("id", "person_id")
    assert renamed.toDF().columns == [*frame.toDF().columns[:3], "person_id", "links", "name"]
    assert renamed.toDF().schema["name"].dataType.simpleString() == (
        "struct<given:string,last:string>")
    moved = frame.rename_field("name.last", "surname")
    assert rows(moved.select_fields(["id", "surname"]), "id")[0] == {"id": "p1",
                                                                     "surname": "Ross"}
    assert "last" not in moved.toDF().schema["name"].dataType.names


def test_split_fields_gives_the_named_fields_and_the_rest(frame_of: Any) -> None:
    dfc = frame_of(PERSONS).split_fields(["id", "name"], "left", "right")
    assert sorted(dfc.keys()) == ["left", "right"]
    assert dfc["left"].toDF().columns == ["id", "name"]
    assert dfc["right"].toDF().columns == ["contact_details", "family_name", "given_name",
                                           "links"]
    assert dfc["left"].name == "left"


def test_drop_null_fields_drops_fields_null_in_every_record(frame_of: Any) -> None:
    frame = frame_of([{"a": 1, "gone": None, "s": {"x": None, "y": 1}, "t": {"z": None}},
                      {"a": None, "gone": None, "s": {"x": None, "y": None}, "t": None}])
    out = frame.drop_null_fields()
    assert out.toDF().schema.simpleString() == "struct<a:bigint,s:struct<y:bigint>>"


def test_unnest_lifts_struct_fields_to_dotted_columns(frame_of: Any) -> None:
    out = frame_of([{"a": {"b": {"c": 1}, "d": "x"}, "e": [1]}]).unnest()
    assert out.toDF().columns == ["a.b.c", "a.d", "e"]
    assert [tuple(r) for r in out.toDF().collect()] == [(1, "x", [1])]


# ------------------------------------------------------------------------ records


def test_filter_sees_nested_dict_records_and_skips_records_that_raise(frame_of: Any) -> None:
    frame = frame_of(PERSONS, "persons")
    # name.last is None for p2: .startswith raises AttributeError -> an error record.
    kept = frame.filter(lambda r: r["name"]["last"].startswith("R"))
    assert [r["id"] for r in rows(kept, "id")] == ["p1"]
    assert kept.stageErrorsCount() == 1
    assert kept.name == "persons"
    # A KeyError (missing field) just fails the test: not an error record.
    none = frame.filter(lambda r: r["no_such_field"] == 1)
    assert none.count() == 0 and none.errorsCount() == 0


def test_map_changes_adds_and_deletes_fields_with_nested_values(frame_of: Any) -> None:
    def tidy(rec: dict[str, Any]) -> dict[str, Any]:
        rec["phones"] = len(rec["contact_details"] or [])
        rec["name"]["full"] = f"{rec['name']['first']} {rec['name']['last'] or ''}".strip()
        rec["tags"] = {"n": len(rec["links"] or []), "first": (rec["links"] or [None])[0]}
        del rec["links"], rec["given_name"]
        return rec

    out = frame_of(PERSONS).map(tidy)
    schema = out.toDF().schema
    assert schema.simpleString() == (
        "struct<contact_details:array<struct<type:string,value:string>>,family_name:string,"
        "id:string,name:struct<first:string,last:string,full:string>,phones:bigint,"
        "tags:struct<n:bigint,first:string>>")
    got = {r["id"]: r for r in rows(out)}
    assert got["p1"]["name"]["full"] == "Mike Ross"
    assert got["p2"]["name"] == {"first": "Shelley", "last": None, "full": "Shelley"}
    assert got["p3"]["phones"] == 0 and got["p3"]["tags"] == {"n": 0, "first": None}
    assert got["p1"]["contact_details"][1] == {"type": "phone", "value": "202-225-3772"}


def test_map_type_conflicts_become_string_and_error_records_are_left_out(
        frame_of: Any) -> None:
    def f(rec: dict[str, Any]) -> dict[str, Any] | None:
        if rec["id"] == 3:
            return None                       # no record: an error record
        if rec["id"] == 4:
            raise RuntimeError("boom")         # raises: an error record
        rec["v"] = 1 if rec["id"] == 1 else "one"
        return rec

    out = frame_of([{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]).map(f, stageThreshold=1)
    assert rows(out, "id") == [{"id": 1, "v": "1"}, {"id": 2, "v": "one"}]
    assert out.stageErrorsCount() == 2
    from awsglue.dynamicframe import ErrorThresholdExceeded

    with pytest.raises(ErrorThresholdExceeded, match="stageThreshold 1"):
        out.assertErrorThreshold()


def test_map_and_filter_see_maps_as_dicts_and_timestamps_as_rows_do(spark: Any) -> None:
    import datetime as dt

    from awsglue.dynamicframe import DynamicFrame

    df = spark.sql("SELECT 1 AS id, map('a', 1, 'b', 2) AS m, "
                   "TIMESTAMP'2024-05-01 10:00:00' AS ts UNION ALL "
                   "SELECT 2, map('c', 3), TIMESTAMP'2023-01-01 00:00:00'")
    frame = DynamicFrame.fromDF(df, None, "t")
    expected = {r["id"]: (r["m"], r["ts"]) for r in df.collect()}  # what a Row gives
    recent = frame.filter(lambda r: r["ts"] > dt.datetime(2024, 1, 1) and "a" in r["m"])
    assert [r["id"] for r in recent.toDF().collect()] == [1]

    def total(rec: dict[str, Any]) -> dict[str, Any]:
        rec["sum"] = sum(rec["m"].values())
        rec["m"]["z"] = 0
        return rec

    out = {r["id"]: r for r in frame.map(total).toDF().collect()}
    assert out[1]["sum"] == 3 and out[2]["sum"] == 3
    assert out[1]["m"] == {"a": 1, "b": 2, "z": 0}
    assert {i: out[i]["ts"] for i in out} == {i: expected[i][1] for i in expected}


def test_join_keeps_both_frames_fields(frame_of: Any) -> None:
    persons = frame_of([{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bob"}], "persons")
    members = frame_of([{"person_id": 1, "org_id": "o1"}, {"person_id": 1, "org_id": "o2"},
                        {"person_id": 9, "org_id": "o3"}], "memberships")
    joined = persons.join(["id"], ["person_id"], members)
    assert joined.name == "personsmemberships"
    assert joined.toDF().columns == ["id", "name", "org_id", "person_id"]
    assert sorted(tuple(r) for r in joined.toDF().collect()) == [
        (1, "Ann", "o1", 1), (1, "Ann", "o2", 1)]
    same = persons.join("id", "id", frame_of([{"id": 2, "org": "x"}]))
    assert [tuple(r) for r in same.toDF().collect()] == [(2, "Bob", "x")]


def test_join_refuses_fields_in_both_frames(frame_of: Any) -> None:
    a = frame_of([{"id": 1, "name": "a"}])
    b = frame_of([{"key": 1, "name": "b"}])
    with pytest.raises(ValueError, match=r"\['name'\].*rename"):
        a.join(["id"], ["key"], b)


def test_merge_dynamic_frame_replaces_records_by_primary_key(frame_of: Any) -> None:
    source = frame_of([{"id": 1, "v": "old"}, {"id": 2, "v": "keep"}], "source")
    stage = frame_of([{"id": 1, "v": "new", "extra": True}, {"id": 3, "v": "added"}], "stage")
    merged = source.mergeDynamicFrame(stage, ["id"])
    assert sorted((r["id"], r["v"], r["extra"]) for r in rows(merged)) == [
        (1, "new", True), (2, "keep", None), (3, "added", None)]
    with pytest.raises(ValueError, match=r"staging frame has no primary key.*\['key'\]"):
        source.rename_field("id", "key").mergeDynamicFrame(stage.rename_field("id", "k"),
                                                           "key")
    both = source.union(stage)
    assert both.count() == 4 and both.toDF().columns == ["id", "v", "extra"]


# ------------------------------------------------------------------------ choices

# "price" holds an int, a string and a double: Spark reads it as a string column.
PRICES = [{"id": 1, "price": 12}, {"id": 2, "price": "n/a"}, {"id": 3, "price": 3.5},
          {"id": 4, "price": None}]


def test_resolve_choice_cast_and_project(frame_of: Any) -> None:
    frame = frame_of(PRICES)
    cast = frame.resolveChoice(specs=[("price", "cast:double")])
    assert [r["price"] for r in rows(cast, "id")] == [12.0, None, 3.5, None]
    assert cast.toDF().schema["price"].dataType.simpleString() == "double"
    proj = frame.resolveChoice(specs=[("price", "project:int")])
    assert [r["price"] for r in rows(proj, "id")] == [12, None, None, None]
    text = frame.resolveChoice(specs=[("price", "project:string")])
    assert [r["price"] for r in rows(text, "id")] == ["12", "n/a", "3.5", None]


def test_resolve_choice_make_cols_and_make_struct(frame_of: Any) -> None:
    frame = frame_of(PRICES)
    cols = frame.resolveChoice(specs=[("price", "make_cols")])
    assert cols.toDF().columns == ["id", "price_int", "price_double", "price_string"]
    assert [tuple(r) for r in cols.toDF().orderBy("id").collect()] == [
        (1, 12, None, None), (2, None, None, "n/a"), (3, None, 3.5, None),
        (4, None, None, None)]
    struct = frame.resolveChoice(specs=[("price", "make_struct")])
    assert struct.toDF().schema["price"].dataType.simpleString() == (
        "struct<int:int,double:double,string:string>")
    assert rows(struct, "id")[1]["price"] == {"int": None, "double": None, "string": "n/a"}


def test_resolve_choice_default_choice_touches_only_mixed_columns(frame_of: Any) -> None:
    frame = frame_of([{"id": 1, "name": "Ann", "code": "7", "price": 1},
                      {"id": 2, "name": "Bob", "code": "8", "price": "x"}])
    out = frame.resolveChoice(choice="make_cols")
    assert out.toDF().columns == ["code", "id", "name", "price_int", "price_string"]


def test_resolve_choice_nested_path(frame_of: Any) -> None:
    frame = frame_of([{"o": {"amount": 5, "k": 1}}, {"o": {"amount": "5.25", "k": 2}}])
    out = frame.resolveChoice(specs=[("o.amount", "cast:decimal(10,2)")])
    assert out.toDF().schema["o"].dataType.simpleString() == (
        "struct<amount:decimal(10,2),k:bigint>")
    assert sorted(str(r["o"]["amount"]) for r in rows(out)) == ["5.00", "5.25"]


class CatalogContext:
    """A GlueContext stand-in that knows one catalog table's columns (what ctx's
    ``GlueContext.catalog_columns`` answers from the run context)."""

    def catalog_columns(self, database: str, table_name: str) -> dict[str, str]:
        assert (database, table_name) == ("sales", "orders")
        return {"ID": "bigint", "price": "double"}


def test_resolve_choice_match_catalog(spark: Any, frame_of: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame

    df = frame_of(PRICES).toDF()
    frame = DynamicFrame.fromDF(df, CatalogContext(), "orders")
    out = frame.resolveChoice(choice="match_catalog", database="sales", table_name="orders")
    assert out.toDF().schema.simpleString() == "struct<id:bigint,price:double>"
    assert [r["price"] for r in rows(out, "id")] == [12.0, None, 3.5, None]
    spec = frame.resolveChoice(specs=[("price", "match_catalog")], database="sales",
                               table_name="orders")
    assert spec.toDF().schema["price"].dataType.simpleString() == "double"


def test_resolve_choice_errors(frame_of: Any) -> None:
    from awsglue._support import GlueUnsupportedError

    frame = frame_of(PRICES)
    with pytest.raises(ValueError, match="both missing"):
        frame.resolveChoice()
    with pytest.raises(ValueError, match="both specified"):
        frame.resolveChoice(specs=[("price", "cast:int")], choice="make_cols")
    with pytest.raises(ValueError, match="unknown action 'widen'"):
        frame.resolveChoice(specs=[("price", "widen")])
    with pytest.raises(GlueUnsupportedError, match=r"match_catalog.*docs/glue\.md"):
        frame.resolveChoice(choice="match_catalog", database="d", table_name="t")


def test_to_df_with_resolve_options(frame_of: Any) -> None:
    from awsglue.dynamicframe import ResolveOption
    from pyspark.sql.types import DoubleType

    frame = frame_of(PRICES)
    df = frame.toDF([ResolveOption("price", "Cast", DoubleType())])
    assert df.schema["price"].dataType == DoubleType()
    kept = frame.toDF([ResolveOption("price", "KeepAsStruct")])
    assert kept.schema["price"].dataType.simpleString().startswith("struct<int:int")


# ------------------------------------------------------------------------ relationalize


def test_relationalize_names_and_columns_as_glues_legislators_example(frame_of: Any) -> None:
    dfc = frame_of(PERSONS, "l_history").relationalize("hist_root", "/tmp/unused-staging")
    assert list(dfc.keys()) == ["hist_root", "hist_root_contact_details", "hist_root_links"]
    details = dfc.select("hist_root_contact_details").toDF()
    assert details.columns == ["id", "index", "contact_details.val.type",
                               "contact_details.val.value"]
    assert [f.dataType.simpleString() for f in details.schema.fields[:2]] == ["bigint", "int"]
    root = dfc.select("hist_root").toDF()
    assert root.columns == ["contact_details", "family_name", "given_name", "id", "links",
                            "name.first", "name.last"]
    assert root.schema["contact_details"].dataType.simpleString() == "bigint"
    # The root's contact_details is the key of the person's rows in the auxiliary table.
    keyed = root.join(details, root["contact_details"] == details["id"]).select(
        root["id"], "index", "`contact_details.val.type`").orderBy(root["id"], "index")
    assert [tuple(r) for r in keyed.collect()] == [
        ("p1", 0, "fax"), ("p1", 1, "phone"), ("p2", 0, "twitter")]
    links = dfc["hist_root_links"].toDF()
    assert links.columns == ["id", "index", "links.val"]
    assert links.count() == 3
    assert root.filter("id = 'p3'").collect()[0]["contact_details"] is None


def test_relationalize_nested_arrays_become_tables_in_turn(frame_of: Any) -> None:
    dfc = frame_of([{"k": 1, "orders": [{"no": 1, "lines": [{"sku": "a"}, {"sku": "b"}]}]}]
                   ).relationalize("root", "")
    assert list(dfc.keys()) == ["root", "root_orders", "root_orders.val.lines"]
    lines = dfc["root_orders.val.lines"].toDF()
    assert lines.columns == ["id", "index", "orders.val.lines.val.sku"]
    orders = dfc["root_orders"].toDF()
    joined = orders.join(lines, orders["`orders.val.lines`"] == lines["id"])
    assert sorted(r["orders.val.lines.val.sku"] for r in joined.collect()) == ["a", "b"]


# ------------------------------------------------------------------------ collections


def test_collection_api(frame_of: Any) -> None:
    from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection

    a, b = frame_of([{"x": 1}], "a"), frame_of([{"y": 2}, {"y": 3}], "b")
    dfc = DynamicFrameCollection([a, b], None)
    assert len(dfc) == 2 and list(dfc) == ["a", "b"] and list(dfc.keys()) == ["a", "b"]
    assert dfc["b"] is b and dfc.select("a") is a and list(dfc.values()) == [a, b]
    empty = dfc.select("nope")
    assert empty.name == "nope" and empty.count() == 0
    seen: list[str] = []

    def one(frame: DynamicFrame, ctx: str) -> DynamicFrame:
        seen.append(ctx)
        return frame.repartition(1)

    mapped = dfc.map(one, "step")
    assert seen == ["step:a", "step:b"] and mapped["b"].count() == 2
    flat = dfc.flatmap(lambda f, ctx: f.split_fields([], f.name + "_x", f.name + "_y"))
    assert sorted(flat.keys()) == ["a_x", "a_y", "b_x", "b_y"]
    with pytest.raises(TypeError, match="must return a DynamicFrame"):
        dfc.map(lambda f, ctx: 1)
    with pytest.raises(TypeError):
        DynamicFrameCollection("a", None)


def test_spigot_writes_a_sample_and_returns_the_frame(frame_of: Any, tmp_path: Path) -> None:
    frame = frame_of([{"i": i} for i in range(10)])
    assert frame.spigot(str(tmp_path / "s"), {"topk": 3}) is frame
    written = [json.loads(line) for p in sorted((tmp_path / "s").glob("part-*"))
               for line in p.read_text().splitlines()]
    assert len(written) == 3


def test_unsupported_apis_name_themselves_and_the_docs(frame_of: Any) -> None:
    from awsglue._support import GlueUnsupportedError

    frame = frame_of([{"a": "{}"}])
    with pytest.raises(GlueUnsupportedError, match=r"DynamicFrame\.unbox.*docs/glue\.md"):
        frame.unbox("a", "json")
    with pytest.raises(GlueUnsupportedError, match=r"paths into arrays"):
        frame.select_fields(["a[].b"])
