# Health checks that follow CloudWatch alarms instead of function URLs (no public endpoint),
# DNS that moves only once a promotion has started, manual promotion, and a public hosted zone.
rto_target_seconds = 600

dns {
  zone_name    = "db.example.com"
  record_name  = "orders"
  private_zone = false
  switch       = "promotion"
}

failover {
  health_check_mode = "cloudwatch"
  mode              = "manual"
  lambda_runtime    = "python3.13"
}
