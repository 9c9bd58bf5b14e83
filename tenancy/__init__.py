"""Project isolation: the SQL that separates projects inside a database, and the catalog check that proves it."""
