# PySpark job used only as a referenced file in config tests.
