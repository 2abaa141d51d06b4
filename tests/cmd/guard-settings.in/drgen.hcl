failover {
  guard_interval_seconds = 1
  silence_seconds        = 60
}
