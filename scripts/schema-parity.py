#!/usr/bin/env python3
"""Checks that migrations/sqlite/ and migrations/postgres/ build the same schema.

Parley keeps one migrations folder per database (issue 10), written by hand
side by side. The store code runs the same SQL on both, and
backend::constraints matches unique violations by index name, so the two
schemas must agree: the same tables; the same columns per table (name,
nullability, default, and type: SQLite INTEGER is Postgres BIGINT, because
the code reads every integer as i64 and sqlx decodes i64 only from int8;
TEXT is text); the same indexes by name, with the same columns, order
direction, uniqueness and partial predicate; the same CHECK constraints and
foreign keys. A difference is printed and the exit status is 1.

    scripts/schema-parity.py [--postgres-url URL] [--postgres-existing]
                             [--sqlite-file FILE]

By default it builds both schemas from scratch: the SQLite migrations in an
in-memory database (python's sqlite3), the Postgres ones with psql in a
scratch database created on the server at --postgres-url (default: the
PARLEY_TEST_POSTGRES_URL that scripts/services.sh exports) and dropped
afterwards. --postgres-existing inspects the database at the URL as it is
instead, and --sqlite-file an existing SQLite file (for databases built by
the server's own migrator). sqlx's `_sqlx_migrations` table and the session
store's table (`sessions`) are not part of the comparison; on Postgres only
the `public` schema is read.

Needs python3 (standard library only) and psql on PATH, e.g.:

    scripts/services.sh run -- scripts/schema-parity.py
"""

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORED_TABLES = {"_sqlx_migrations", "sessions"}
# What each SQLite declared type must be on Postgres.
TYPE_MAP = {
    "INTEGER": {"bigint"},
    "TEXT": {"text"},
    "REAL": {"double precision"},
    "BLOB": {"bytea"},
}


def migrations(folder):
    files = sorted(folder.glob("*.sql"))
    if not files:
        sys.exit(f"schema-parity: no migrations in {folder}")
    return files


# ---------------------------------------------------------------- normalising


def normalize_sql(expr):
    """An SQL expression in a form both databases' spellings reduce to:
    lower case, no casts, `x = ANY (ARRAY[a, b])` as `x IN (a, b)`, and no
    parentheses or white space."""
    if expr is None:
        return None
    s = expr.lower()
    s = re.sub(r"::[a-z_ ]+(\[\])?", "", s)
    s = re.sub(r"=\s*any\s*\(\s*array\s*\[(.*?)\]\s*\)", r" in (\1)", s)
    s = re.sub(r"[()\s]", "", s)
    return s


def balanced(text, start):
    """The text inside the parentheses that open at text[start]."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    raise ValueError(f"unbalanced parentheses in {text!r}")


def strip_comments(sql):
    return re.sub(r"--[^\n]*", "", sql)


# -------------------------------------------------------------------- SQLite


def sqlite_schema(conn):
    schema = {}
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if row[0] not in IGNORED_TABLES
    ]
    for table in tables:
        info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        pk_columns = [row[1] for row in sorted((r for r in info if r[5] > 0), key=lambda r: r[5])]
        columns = {}
        for _cid, name, decl, notnull, default, pk in info:
            columns[name] = {
                # A primary key column never holds NULL here (INTEGER PRIMARY
                # KEY is the rowid; the others are declared NOT NULL).
                "nullable": not (notnull or pk),
                "type": decl.upper(),
                "default": None if default is None else normalize_sql(default),
            }
        indexes = {}
        rowid_pk = len(pk_columns) == 1 and columns[pk_columns[0]]["type"] == "INTEGER"
        if rowid_pk:
            # INTEGER PRIMARY KEY is the rowid: no index of its own, but the
            # same unique lookup Postgres' <table>_pkey gives.
            indexes[f"{table}_pkey"] = {
                "columns": [(pk_columns[0], "asc")],
                "unique": True,
                "predicate": None,
            }
        for _seq, name, unique, origin, partial in conn.execute(f'PRAGMA index_list("{table}")'):
            keys = [
                (row[2], "desc" if row[3] else "asc")
                for row in conn.execute(f'PRAGMA index_xinfo("{name}")')
                if row[5]
            ]
            if origin == "pk":
                name = f"{table}_pkey"
            elif origin == "u":
                # An inline UNIQUE: Postgres names it <table>_<columns>_key.
                name = f"{table}_{'_'.join(k[0] for k in keys)}_key"
            predicate = None
            if partial:
                sql = conn.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
                ).fetchone()[0]
                predicate = normalize_sql(re.split(r"\bwhere\b", sql, flags=re.IGNORECASE)[-1])
            indexes[name] = {"columns": keys, "unique": bool(unique), "predicate": predicate}
        create = strip_comments(
            conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
        )
        checks = sorted(
            normalize_sql(balanced(create, m.end() - 1))
            for m in re.finditer(r"\bcheck\s*\(", create, flags=re.IGNORECASE)
        )
        fks = {}
        for fk_id, _seq, ref_table, from_col, to_col, *_rest in conn.execute(
            f'PRAGMA foreign_key_list("{table}")'
        ):
            fks.setdefault(fk_id, ([], ref_table, []))
            fks[fk_id][0].append(from_col)
            fks[fk_id][2].append(to_col)
        foreign_keys = sorted(f"({', '.join(f)}) -> {t} ({', '.join(c)})" for f, t, c in fks.values())
        schema[table] = {
            "columns": columns,
            "indexes": indexes,
            "checks": checks,
            "foreign_keys": foreign_keys,
        }
    return schema


def build_sqlite(folder):
    conn = sqlite3.connect(":memory:")
    for path in migrations(folder):
        try:
            conn.executescript(path.read_text())
        except sqlite3.Error as e:
            sys.exit(f"schema-parity: {path.relative_to(ROOT)} failed on SQLite: {e}")
    return conn


# ------------------------------------------------------------------ Postgres


def psql(url, *args, stdin=None):
    result = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", url, *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"psql exited with {result.returncode}")
    return result.stdout


POSTGRES_QUERY = r"""
SELECT json_build_object(
  'columns', (SELECT coalesce(json_agg(json_build_object(
        'table', c.table_name, 'name', c.column_name,
        'nullable', c.is_nullable = 'YES', 'type', c.data_type,
        'default', c.column_default, 'identity', c.is_identity = 'YES')), '[]')
      FROM information_schema.columns c WHERE c.table_schema = 'public'),
  'indexes', (SELECT coalesce(json_agg(json_build_object(
        'table', t.relname, 'name', i.relname, 'unique', ix.indisunique,
        'predicate', pg_get_expr(ix.indpred, ix.indrelid),
        'columns', (SELECT json_agg(json_build_array(
                        coalesce(a.attname, pg_get_indexdef(ix.indexrelid, k.ord::int, true)),
                        CASE WHEN (ix.indoption[k.ord - 1] & 1) = 1 THEN 'desc' ELSE 'asc' END)
                      ORDER BY k.ord)
                    FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
                    WHERE k.ord <= ix.indnkeyatts))), '[]')
      FROM pg_index ix
      JOIN pg_class i ON i.oid = ix.indexrelid
      JOIN pg_class t ON t.oid = ix.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public'),
  'constraints', (SELECT coalesce(json_agg(json_build_object(
        'table', t.relname, 'type', con.contype, 'definition', pg_get_constraintdef(con.oid))), '[]')
      FROM pg_constraint con
      JOIN pg_class t ON t.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND con.contype IN ('c', 'f'))
)
"""


def postgres_schema(url):
    raw = json.loads(psql(url, "-A", "-t", "-c", POSTGRES_QUERY))
    schema = {}

    def table(name):
        return schema.setdefault(name, {"columns": {}, "indexes": {}, "checks": [], "foreign_keys": []})

    for c in raw["columns"]:
        if c["table"] in IGNORED_TABLES:
            continue
        default = None if c["identity"] else c["default"]
        table(c["table"])["columns"][c["name"]] = {
            "nullable": c["nullable"],
            "type": c["type"],
            "default": None if default is None else normalize_sql(default),
        }
    for ix in raw["indexes"]:
        if ix["table"] in IGNORED_TABLES:
            continue
        table(ix["table"])["indexes"][ix["name"]] = {
            "columns": [tuple(col) for col in ix["columns"]],
            "unique": ix["unique"],
            "predicate": normalize_sql(ix["predicate"]),
        }
    for con in raw["constraints"]:
        if con["table"] in IGNORED_TABLES:
            continue
        definition = con["definition"]
        if con["type"] == "c":
            start = definition.upper().index("CHECK") + len("CHECK")
            start = definition.index("(", start)
            table(con["table"])["checks"].append(normalize_sql(balanced(definition, start)))
        else:
            m = re.fullmatch(r"FOREIGN KEY \((.*?)\) REFERENCES (\S+?)\((.*?)\)(.*)", definition)
            if not m:
                raise RuntimeError(f"unexpected foreign key definition: {definition}")
            if m.group(4).strip():
                # ON DELETE / ON UPDATE / DEFERRABLE: keep them visible.
                table(con["table"])["foreign_keys"].append(definition)
                continue
            fk = f"({m.group(1)}) -> {m.group(2)} ({m.group(3)})"
            table(con["table"])["foreign_keys"].append(fk)
    for t in schema.values():
        t["checks"].sort()
        t["foreign_keys"].sort()
    return schema


def scratch_database(url):
    """Creates an empty database beside the one `url` names; returns its URL."""
    name = f"parley_parity_{os.getpid()}"
    psql(url, "-c", f"DROP DATABASE IF EXISTS {name}", "-c", f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(url)
    return name, urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def build_postgres(url, folder):
    for path in migrations(folder):
        try:
            psql(url, "-1", "-f", str(path))
        except RuntimeError as e:
            raise RuntimeError(f"{path.relative_to(ROOT)} failed on PostgreSQL: {e}") from e


# ---------------------------------------------------------------- comparing


def compare(sqlite, postgres):
    problems = []
    for table in sorted(set(sqlite) | set(postgres)):
        if table not in postgres:
            problems.append(f"table {table}: only in SQLite")
            continue
        if table not in sqlite:
            problems.append(f"table {table}: only in PostgreSQL")
            continue
        s, p = sqlite[table], postgres[table]
        for col in sorted(set(s["columns"]) | set(p["columns"])):
            where = f"column {table}.{col}"
            if col not in p["columns"]:
                problems.append(f"{where}: only in SQLite")
                continue
            if col not in s["columns"]:
                problems.append(f"{where}: only in PostgreSQL")
                continue
            sc, pc = s["columns"][col], p["columns"][col]
            if sc["nullable"] != pc["nullable"]:
                problems.append(
                    f"{where}: {'NULL' if sc['nullable'] else 'NOT NULL'} on SQLite, "
                    f"{'NULL' if pc['nullable'] else 'NOT NULL'} on PostgreSQL"
                )
            wanted = TYPE_MAP.get(sc["type"])
            if wanted is None:
                problems.append(f"{where}: SQLite type {sc['type']!r} has no known Postgres counterpart")
            elif pc["type"] not in wanted:
                problems.append(
                    f"{where}: {sc['type']} on SQLite wants {' or '.join(sorted(wanted))} "
                    f"on PostgreSQL, not {pc['type']}"
                )
            if sc["default"] != pc["default"]:
                problems.append(f"{where}: default {sc['default']!r} on SQLite, {pc['default']!r} on PostgreSQL")
        for name in sorted(set(s["indexes"]) | set(p["indexes"])):
            where = f"index {name} on {table}"
            if name not in p["indexes"]:
                problems.append(f"{where}: only in SQLite")
                continue
            if name not in s["indexes"]:
                problems.append(f"{where}: only in PostgreSQL")
                continue
            si, pi = s["indexes"][name], p["indexes"][name]
            if list(si["columns"]) != list(pi["columns"]):
                problems.append(f"{where}: columns {si['columns']} on SQLite, {pi['columns']} on PostgreSQL")
            if si["unique"] != pi["unique"]:
                problems.append(f"{where}: unique={si['unique']} on SQLite, unique={pi['unique']} on PostgreSQL")
            if si["predicate"] != pi["predicate"]:
                problems.append(f"{where}: WHERE {si['predicate']!r} on SQLite, {pi['predicate']!r} on PostgreSQL")
        for kind in ("checks", "foreign_keys"):
            for item in sorted(set(s[kind]) - set(p[kind])):
                problems.append(f"{kind[:-1].replace('_', ' ')} on {table}: only in SQLite: {item}")
            for item in sorted(set(p[kind]) - set(s[kind])):
                problems.append(f"{kind[:-1].replace('_', ' ')} on {table}: only in PostgreSQL: {item}")
    return problems


def main():
    parser = argparse.ArgumentParser(
        description="Compare the schemas migrations/sqlite/ and migrations/postgres/ build."
    )
    parser.add_argument("--postgres-url", default=os.environ.get("PARLEY_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--postgres-existing",
        action="store_true",
        help="inspect the database at --postgres-url as it is (do not build one)",
    )
    parser.add_argument("--sqlite-file", help="inspect this SQLite file (do not build one)")
    parser.add_argument("--sqlite-migrations", type=Path, default=ROOT / "migrations" / "sqlite")
    parser.add_argument("--postgres-migrations", type=Path, default=ROOT / "migrations" / "postgres")
    args = parser.parse_args()
    if not args.postgres_url:
        sys.exit(
            "schema-parity: no PostgreSQL: pass --postgres-url or set PARLEY_TEST_POSTGRES_URL "
            "(scripts/services.sh run -- scripts/schema-parity.py)"
        )

    if args.sqlite_file:
        conn = sqlite3.connect(f"file:{args.sqlite_file}?mode=ro", uri=True)
    else:
        conn = build_sqlite(args.sqlite_migrations)
    sqlite = sqlite_schema(conn)
    conn.close()

    try:
        if args.postgres_existing:
            postgres = postgres_schema(args.postgres_url)
        else:
            name, url = scratch_database(args.postgres_url)
            try:
                build_postgres(url, args.postgres_migrations)
                postgres = postgres_schema(url)
            finally:
                psql(args.postgres_url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except (RuntimeError, FileNotFoundError) as e:
        sys.exit(f"schema-parity: {e}")

    problems = compare(sqlite, postgres)
    if problems:
        print(f"schema-parity: {len(problems)} difference(s) between SQLite and PostgreSQL:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    tables = len(sqlite)
    columns = sum(len(t["columns"]) for t in sqlite.values())
    indexes = sum(len(t["indexes"]) for t in sqlite.values())
    checks = sum(len(t["checks"]) for t in sqlite.values())
    fks = sum(len(t["foreign_keys"]) for t in sqlite.values())
    print(
        f"schema-parity: SQLite and PostgreSQL agree: {tables} tables, {columns} columns, "
        f"{indexes} indexes, {checks} checks, {fks} foreign keys"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
