primary {
  region   = "us-east-9"
  vpc_cidr = "10.0.0.1/16"
}

dr {
  vpc_cidr = "10.0.0.0/17"
}

database {
  backup_retention_days = 40
  instance_class        = "m5.large"
}

dns {
  ttl_seconds = 300
}
