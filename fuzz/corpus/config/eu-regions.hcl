# Primary in Ireland, DR in Frankfurt, with other CIDRs and a longer name prefix.
name = "payments-db"

primary {
  region              = "eu-west-1"
  vpc_cidr            = "172.20.0.0/16"
  subnet_prefix_length = 22
}

dr {
  region   = "eu-central-1"
  vpc_cidr = "172.21.0.0/16"
}

tags = {
  Team = "platform"
}
