"""What a piece of user SQL may read, decided on its syntax tree before anything runs.

SQL jobs, DQDL ``where`` clauses and ``CustomSql`` statements are vetted here, by the graph
builder (``sluice release``, deploy), by ``sluice check`` (the sql and dqdl kinds) and by the
DQDL compiler, so every path refuses the same things:

- SQL that does not parse strictly. sqlglot repairs some invalid SQL without a word (it drops
  empty list items, ``SELECT a,, FROM t``, and an ``ON`` without a condition); a strict
  parser refuses them, and for the duckdb dialect DuckDB's own parser must accept the text
  too, so what sluice accepts is what the engine accepts.
- Anything but exactly one query (jobs, CustomSql) or one expression (``where``); statements
  hidden inside one (``WITH d AS (DELETE …)``, ``SELECT … INTO``, ``TRANSFORM … USING``).
- Functions that read files, the network, other databases, settings or the environment
  (``read_csv``, ``pg_read_file``, ``dblink``, ``getenv``, ``reflect`` …). In a table
  position only a few row generators are allowed (``range``, ``unnest`` …): an allowlist,
  because engines keep adding table functions that read things.
- File paths and URLs used as table names (``FROM '/etc/passwd'``, DuckDB replacement scans
  of ``"data.csv"``, Spark's ``csv.`/path```).

The real tables a query reads (not CTE references, resolved by scope) are returned so the
callers can hold them against the project's declared datasets and sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlglot import TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError
from sqlglot.parser import Parser

from sluice.config.base import did_you_mean
from sluice.errors import ConfigError

#: What a refusal of a file or network read tells the user to do instead.
DECLARE_TIP = ("declare the data as a source in sluice.yaml (sources: <schema>.<name>: "
               "{format: …, path: …}) and read it by that name")

#: Table-valued functions that only generate rows from their arguments.
TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "generate_subscripts", "explode", "explode_outer",
    "posexplode", "posexplode_outer", "inline", "inline_outer", "stack", "json_each",
    "json_tree", "jsonb_each", "jsonb_each_text", "json_array_elements",
    "json_array_elements_text", "jsonb_array_elements", "jsonb_array_elements_text",
    "regexp_split_to_table", "json_to_recordset", "jsonb_to_recordset",
    "exploding_generate_series",  # sqlglot's name of PostgreSQL's generate_series
})

#: Functions refused anywhere: they read files, the network, other databases, settings,
#: the environment or the catalog, run SQL given as a string, or call into the JVM.
DENIED_FUNCTIONS = frozenset({
    # DuckDB
    "read_text", "read_blob", "read_csv", "read_csv_auto", "read_json", "read_json_auto",
    "read_json_objects", "read_json_objects_auto", "read_ndjson", "read_ndjson_auto",
    "read_ndjson_objects", "read_parquet", "parquet_scan", "parquet_metadata",
    "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata", "glob", "sniff_csv",
    "iceberg_scan", "iceberg_metadata", "iceberg_snapshots", "delta_scan", "sqlite_scan",
    "sqlite_attach", "sqlite_query", "postgres_scan", "postgres_scan_pushdown",
    "postgres_query", "postgres_execute", "postgres_attach", "mysql_scan", "mysql_query",
    "mysql_execute", "read_xlsx", "st_read", "st_read_meta", "st_readosm", "st_drivers",
    "query", "query_table", "json_execute_serialized_sql", "getenv", "current_setting",
    "which_secret", "load_extension", "checkpoint", "force_checkpoint", "http_get",
    "http_post", "read_gsheet", "arrow_scan", "from_substrait",
    "scan_arrow_ipc", "read_ipc", "read_avro", "read_lines", "read_files",
    # PostgreSQL
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import",
    "lo_export", "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_open",
    "dblink_fetch", "dblink_send_query", "dblink_get_result", "set_config", "query_to_xml",
    "query_to_xmlschema", "query_to_xml_and_xmlschema", "table_to_xml", "table_to_xmlschema",
    "table_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "schema_to_xml",
    "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
    "inet_server_addr", "nextval", "setval", "txid_current",
    # Spark
    "reflect", "java_method", "try_reflect",
})

#: Name prefixes refused anywhere (families of catalog, file and connector functions).
DENIED_PREFIXES = ("read_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_",
                   "mysql_", "duckdb_", "pragma_", "st_read", "pg_", "lo_", "dblink", "http_")

#: Functions that match a denied prefix but only compute from their arguments.
HARMLESS = frozenset({"pg_typeof"})

#: Nodes that change something or are statements of their own: never inside user SQL.
_STATEMENT_NAMES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Copy", "Set",
    "Pragma", "Use", "Attach", "Detach", "Install", "LoadData", "Into", "QueryTransform",
    "Describe", "Show", "Summarize", "Transaction", "Commit", "Rollback", "Grant", "Revoke",
    "TruncateTable", "Analyze", "Cache", "Uncache", "Refresh", "Kill", "Export", "Declare",
    "Lock", "Execute", "Call", "Comment",
)
_STATEMENTS: tuple[type[exp.Expr], ...] = tuple(
    cls for cls in (getattr(exp, n, None) for n in _STATEMENT_NAMES)
    if isinstance(cls, type) and issubclass(cls, exp.Expr)
)

#: Characters no table name of a declared dataset has, but every path and URL has.
_PATHLIKE = re.compile(r"[/\\:*?~.]")

#: Parse trees past this many nodes are refused (a defence against hostile inputs).
MAX_NODES = 200_000


@dataclass(frozen=True)
class Refusal:
    """Why a piece of SQL is refused, and where in it (1-based line and column)."""

    message: str
    line: int
    column: int
    tip: str


@dataclass(frozen=True)
class TableRead:
    """A real table a query reads (not a CTE), as written and where."""

    name: str  # ``schema.name`` or ``name``, as written
    line: int
    column: int
    node: exp.Table = field(compare=False, repr=False)


@dataclass
class Vetted:
    """The outcome of vetting one piece of SQL."""

    tree: exp.Expr | None
    refusals: list[Refusal]
    tables: list[TableRead]

    @property
    def ok(self) -> bool:
        return not self.refusals


# ------------------------------------------------------------------ entry points


def _vet_select(sql: str, dialect: str, what: str, tip: str) -> Vetted:
    """One SELECT statement (``what`` names it in messages), reading no files or network."""
    tree, refusals = _parse_one(sql, dialect, what=what)
    if tree is None:
        return Vetted(None, refusals, [])
    if not isinstance(tree, exp.Query):
        return Vetted(tree, [_at(sql, tree, f"{what} must be one SELECT statement, not "
                                 f"{_kind(tree)}", tip)], [])
    refusals = _forbidden(sql, tree)
    tables, more = _tables(sql, tree)
    return Vetted(tree, refusals + more, tables)


def vet_query(sql: str, dialect: str) -> Vetted:
    """A job's SQL: exactly one SELECT (or WITH … SELECT), reading no files or network."""
    return _vet_select(sql, dialect, "a sql job", "write the query only; sluice creates the table")


def vet_read_query(sql: str, dialect: str) -> Vetted:
    """An ad-hoc query (``sluice query``): exactly one SELECT, reading no files or network;
    the caller holds its tables against what the environment serves."""
    return _vet_select(sql, dialect, "a query", "write one SELECT; sluice query only reads")


def vet_custom_sql(sql: str, dialect: str) -> Vetted:
    """A DQDL CustomSql statement: one query over ``primary`` and references by alias."""
    vetted = _vet_select(sql, dialect, "CustomSql", "select from primary")
    if vetted.tree is None or not isinstance(vetted.tree, exp.Query):
        return vetted
    tree, refusals, tables = vetted.tree, list(vetted.refusals), vetted.tables
    for t in tables:
        if "." in t.name:
            refusals.append(Refusal(
                f"CustomSql reads {t.name}: it may read only primary (the dataset the rules "
                "are about) and references by their alias", t.line, t.column,
                "select from primary; compare with another dataset through a reference"))
    return Vetted(tree, refusals, tables)


def vet_predicate(sql: str, dialect: str) -> Vetted:
    """A DQDL ``where`` clause: one expression over the dataset's columns, reading nothing."""
    tree, refusals = _parse_one(sql, dialect, what="a where clause", statement=False)
    if tree is None:
        return Vetted(None, refusals, [])
    if isinstance(tree, exp.Query | exp.Subquery):
        return Vetted(tree, [_at(sql, tree, "a where clause must be a predicate, not a query",
                                 'write a condition on columns, e.g. "amount > 0"')], [])
    if isinstance(tree, exp.Alias):
        return Vetted(tree, [_at(sql, tree.args["alias"], f"a where clause must be one "
                                 f"expression, but {tree.alias!r} follows it",
                                 "join conditions with and / or")], [])
    if isinstance(tree, (*_STATEMENTS, exp.Tuple)):
        return Vetted(tree, [_at(sql, tree, f"a where clause must be one expression, not "
                                 f"{_kind(tree)}",
                                 'write a single condition, e.g. "amount > 0"')], [])
    refusals = _forbidden(sql, tree)
    for node in tree.find_all(exp.Table, exp.Query):
        refusals.append(_at(sql, node, "a where clause cannot read a table or run a query",
                            "name only columns of the dataset; use CustomSql to compare "
                            "with other data"))
        break
    return Vetted(tree, refusals, [])


def raise_refusal(vetted: Vetted, *, source: str, line: int = 1, column: int = 1) -> None:
    """Raise the first refusal as a ConfigError located in ``source`` (the snippet starts at
    ``line``:``column`` of that file)."""
    if vetted.ok:
        return
    r = vetted.refusals[0]
    at_line = line + r.line - 1
    at_col = r.column + (column - 1 if r.line == 1 else 0)
    raise ConfigError(f"{source}:{at_line}:{at_col}: {r.message}", tip=r.tip)


def resolve_dataset(name: str, known: Collection[str]) -> str | None:
    """The dataset a table name in SQL means (``orders`` → ``main.orders``), or None."""
    if name in known:
        return name
    if "." not in name and f"main.{name}" in known:
        return f"main.{name}"
    lowered = {k.lower(): k for k in known}
    return lowered.get(name.lower())


def undeclared(tables: Collection[TableRead], known: Collection[str], *,
               job: str) -> list[Refusal]:
    """Tables that are neither declared datasets nor sources (CTEs are not in ``tables``)."""
    names = set(known)
    out: list[Refusal] = []
    for t in tables:
        if resolve_dataset(t.name, names) is not None:
            continue
        out.append(Refusal(
            f"job {job} reads {t.name}, which is neither a source nor a dataset of this "
            f"project{did_you_mean(t.name, sorted(names))}", t.line, t.column,
            "declare it under sources: or datasets: in sluice.yaml"))
    return out


# ------------------------------------------------------------------ parsing


@cache
def _strict_parser_class(base: type[Parser], trailing_commas: bool) -> type[Parser]:
    """``base`` made strict: sqlglot's parser skips empty list items and a JOIN's empty ON,
    so ``SELECT a,, FROM t`` would run as ``SELECT a FROM t``."""

    class StrictParser(base):  # type: ignore[valid-type,misc]
        def _parse_csv(self, parse_method: Callable[[], Any],
                       sep: TokenType = TokenType.COMMA) -> list[Any]:
            result = parse_method()
            items = [result] if result is not None else []
            while self._match(sep):
                sep_token = self._prev
                if isinstance(result, exp.Expr):
                    self._add_comments(result)
                result = parse_method()
                if result is not None:
                    items.append(result)
                elif self._curr is not None and self._curr.token_type == sep:
                    self.raise_error(f"nothing between two {sep_token.text!r}", sep_token)
                elif not trailing_commas:
                    self.raise_error(f"nothing after {sep_token.text!r}", sep_token)
            return items

        def _parse_join(self, *args: Any, **kwargs: Any) -> exp.Join | None:
            join: exp.Join | None = super()._parse_join(*args, **kwargs)
            # a condition always follows a written ON, so ON as the last token read means
            # none was written (some dialects then invent ON TRUE)
            if (isinstance(join, exp.Join) and self._prev is not None
                    and self._prev.token_type == TokenType.ON):
                self.raise_error("ON without a join condition", self._prev)
            return join

    return StrictParser


def _parse_one(sql: str, dialect: str, *, what: str,
               statement: bool = True) -> tuple[exp.Expr | None, list[Refusal]]:
    """Exactly one statement (or expression), parsed strictly; for a statement in the duckdb
    dialect DuckDB's own parser must agree."""
    control = next((i for i, ch in enumerate(sql) if ch < " " and ch not in "\t\n\r"), None)
    if control is not None:  # a NUL or control byte: a binary file, or text cut and pasted
        line = sql.count("\n", 0, control) + 1
        column = control - (sql.rfind("\n", 0, control) + 1) + 1
        return None, [Refusal(f"{what} holds a control character (U+{ord(sql[control]):04X}); "
                              "is this a binary file?", line, column,
                              "save the file as plain UTF-8 text")]
    engine_count: int | None = None
    if dialect == "duckdb" and statement:
        refusal, engine_count = _duckdb_parse(sql, what)
        if refusal is not None:
            return None, [refusal]
    try:
        d = Dialect.get_or_raise(dialect)
        tokens = d.tokenize(sql)
        parser = _strict_parser_class(d.parser_class, dialect == "duckdb")(
            error_level=ErrorLevel.RAISE, dialect=d, max_nodes=MAX_NODES)
        trees = [t for t in parser.parse(tokens, sql) if t is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        message = err.get("description") or str(exc).splitlines()[0]
        # sqlglot gives the column where the offending token ends
        token = str(err.get("highlight") or "")
        column = int(err.get("col") or 1) - (len(token) - 1 if "\n" not in token else 0)
        return None, [Refusal(f"SQL does not parse ({dialect}): {message}",
                              max(int(err.get("line") or 1), 1), max(column, 1),
                              f"fix the SQL; the dialect is {dialect}")]
    except RecursionError:
        return None, [Refusal("SQL is nested too deeply to be read", 1, 1,
                              "flatten the expression, e.g. with a CTE")]
    except (SqlglotError, ValueError) as exc:
        return None, [Refusal(f"SQL does not parse ({dialect}): {str(exc).splitlines()[0]}",
                              1, 1, "look for an unterminated quote or comment")]
    if not trees:
        return None, [Refusal(f"{what} is empty", 1, 1, "write one SELECT")]
    if len(trees) > 1 or (engine_count is not None and engine_count > 1):
        semicolons = [t for i, t in enumerate(tokens) if t.token_type == TokenType.SEMICOLON
                      and any(u.token_type != TokenType.SEMICOLON for u in tokens[i + 1:])]
        line, column = (semicolons[0].line, semicolons[0].col) if semicolons else (1, 1)
        one = "statement" if statement else "expression"
        return None, [Refusal(f"{what} must be one {one}, found "
                              f"{max(len(trees), engine_count or 0)} statements", line, column,
                              "remove the ';' and everything after it")]
    # statements are refused as a whole: point at their first word
    trees[0].meta.setdefault("start", tokens[0].start)
    return trees[0], []


_DUCKDB_LINE = re.compile(r"LINE (\d+): (.*)\n( *)\^")


def _duckdb_parse(sql: str, what: str = "a sql job") -> tuple[Refusal | None, int]:
    """DuckDB's own parser (no binding, nothing runs): its syntax error, or how many
    statements it reads and, when that is one, whether it is a SELECT."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        text = str(exc)
        line, column = 1, 1
        found = _DUCKDB_LINE.search(text)
        if found:
            line = int(found.group(1))
            # the caret sits under the error in the echoed line, after "LINE n: "
            column = max(len(found.group(3)) - len(f"LINE {found.group(1)}: ") + 1, 1)
        first = text.splitlines()[0].removeprefix("Parser Error: ")
        return Refusal(f"SQL does not parse (duckdb): {first}", line, column,
                       "fix the SQL; DuckDB's parser decides what the duckdb dialect "
                       "accepts"), 0
    finally:
        con.close()
    if len(statements) == 1 and statements[0].type != duckdb.StatementType.SELECT:
        kind = str(statements[0].type).rsplit(".", 1)[-1]
        return Refusal(f"{what} must be one SELECT statement, not {kind}", 1, 1,
                       "write the query only; sluice creates the table"
                       if what == "a sql job" else "write one SELECT"), 1
    return None, len(statements)


# ------------------------------------------------------------------ the rules


def _forbidden(sql: str, tree: exp.Expr) -> list[Refusal]:
    """Statements hidden inside the tree, and functions that read files or the network."""
    out: list[Refusal] = []
    for node in tree.walk():
        if isinstance(node, _STATEMENTS):
            out.append(_at(sql, node, f"{_kind(node)} is not allowed here: user SQL only reads",
                           "write a plain SELECT; sluice writes the results"))
            continue
        if not isinstance(node, exp.Func):
            continue
        name = _func_name(node)
        if _in_table_position(node):
            if name not in TABLE_FUNCTIONS:
                out.append(_at(sql, node, f"table function {name}() is refused: it can read "
                               "data that is not a declared input", DECLARE_TIP))
        elif name in DENIED_FUNCTIONS or (name.startswith(DENIED_PREFIXES)
                                          and name not in HARMLESS):
            out.append(_at(sql, node, f"function {name}() is refused: it reads files, the "
                           "network, settings or other databases", DECLARE_TIP))
    return out


def _tables(sql: str, tree: exp.Expr) -> tuple[list[TableRead], list[Refusal]]:
    """The real tables of a query (CTE references resolved by scope) and path-like names."""
    tables: list[TableRead] = []
    refusals: list[Refusal] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function: _forbidden judged it
        parts = [p.name for p in table.parts]
        if any(_PATHLIKE.search(p) for p in parts):
            refusals.append(_at(sql, table, f"{'.'.join(parts)!r} is a file path or URL used "
                                "as a table: only declared datasets and sources can be read",
                                DECLARE_TIP))
            continue
        if _is_cte_reference(table):
            continue
        line, column = _position(sql, table)
        tables.append(TableRead(".".join(parts), line, column, table))
    return tables, refusals


def _is_cte_reference(table: exp.Table) -> bool:
    """Whether an unqualified table names a CTE visible where it stands: CTEs of enclosing
    queries, and in a CTE's body only the CTEs before it (and itself in the recursive branch
    of a WITH RECURSIVE union, :func:`_recursive_branch`)."""
    if table.args.get("db") or table.args.get("catalog"):
        return False
    name = table.name.lower()
    child: exp.Expr = table
    node = table.parent
    skip_with: exp.Expr | None = None
    while node is not None:
        if isinstance(node, exp.With) and isinstance(child, exp.CTE):
            ctes = list(node.expressions)
            visible = ctes[:ctes.index(child) + (1 if _recursive_branch(node, child, table)
                                                  else 0)]
            if any(c.alias_or_name.lower() == name for c in visible):
                return True
            skip_with = node  # the query that owns this WITH must not count it again
        else:
            with_ = node.args.get("with_") or node.args.get("with")
            if (isinstance(with_, exp.With) and with_ is not skip_with
                    and any(c.alias_or_name.lower() == name for c in with_.expressions)):
                return True
        child, node = node, node.parent
    return False


def _recursive_branch(with_: exp.With, cte: exp.CTE, table: exp.Table) -> bool:
    """Whether ``table`` stands where a CTE may name itself: under WITH RECURSIVE, in the
    recursive (right-hand) branch of a UNION that is the CTE's body. Anywhere else the
    engine binds the name to a real table (``WITH RECURSIVE t AS (SELECT * FROM t)`` reads
    a catalog table ``t``), so it is checked like one."""
    body = cte.this
    if not with_.args.get("recursive") or not isinstance(body, exp.Union):
        return False
    branch = body.expression
    node: exp.Expr | None = table
    while node is not None and node is not body:
        if node is branch:
            return True
        node = node.parent
    return False


def _in_table_position(node: exp.Func) -> bool:
    parent = node.parent
    return isinstance(parent, exp.Table | exp.Lateral | exp.From | exp.Join) and (
        parent.this is node)


def _func_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _kind(node: exp.Expr) -> str:
    return {"Command": node.name.upper() if node.name else "a command"}.get(
        type(node).__name__, type(node).__name__.upper())


def _at(sql: str, node: exp.Expr, message: str, tip: str) -> Refusal:
    line, column = _position(sql, node)
    return Refusal(message, line, column, tip)


def _position(sql: str, node: exp.Expr) -> tuple[int, int]:
    """Line and column of the leftmost token of ``node`` (tokens record offsets in ``sql``)."""
    starts = [int(n.meta["start"]) for n in _walk(node) if "start" in n.meta]
    if not starts:
        return 1, 1
    start = min(starts)
    return sql.count("\n", 0, start) + 1, start - sql.rfind("\n", 0, start)


def _walk(node: exp.Expr) -> Iterator[exp.Expr]:
    yield from node.walk()
