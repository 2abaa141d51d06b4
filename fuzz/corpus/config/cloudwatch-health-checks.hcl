# Health checks that follow CloudWatch alarms instead of function URLs (no public endpoint),
# direct promotion by the monitor without Step Functions, and a public hosted zone.
rto_target_seconds = 300

dns {
  zone_name    = "db.example.com"
  record_name  = "orders"
  private_zone = false
}

failover {
  health_check_mode = "cloudwatch"
  step_functions    = false
  lambda_runtime    = "python3.13"
}
