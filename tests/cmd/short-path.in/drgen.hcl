failover {
  silence_seconds = 100
}
