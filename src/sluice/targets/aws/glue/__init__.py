"""Files sluice uploads for Glue: the launcher that runs a job's script on Glue with the same
``--input``/``--output``/``--param`` arguments it gets locally."""
