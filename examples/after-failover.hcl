# The topology after a failover to the DR region: the old primary is retired. Rendering this
# and applying it deletes the fenced old primary (RUNBOOK.md, "Failback"); the promoted DR
# instance is the writer, and both failover records name it.
database {
  primary_retired = true
}
