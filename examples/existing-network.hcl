# Both regions use VPCs that already exist; drgen reads them through data sources and
# adds only the peering, the routes and its own security groups and endpoints. The primary VPC
# already has a CloudWatch Logs endpoint; the applications' security group and an office range
# are database clients.
primary {
  region   = "us-east-1"
  vpc_cidr = "10.40.0.0/16"

  existing_network {
    vpc_id          = "vpc-0a1b2c3d4e5f60718"
    subnet_ids      = ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712", "subnet-0a1b2c3d4e5f60713"]
    route_table_ids    = ["rtb-0a1b2c3d4e5f60711", "rtb-0a1b2c3d4e5f60712"]
    existing_endpoints = ["logs"]
  }

  client_cidrs              = ["10.40.0.0/16", "192.168.10.0/24"]
  client_security_group_ids = ["sg-0a1b2c3d4e5f60719"]
}

dr {
  region   = "us-west-2"
  vpc_cidr = "10.41.0.0/16"

  existing_network {
    vpc_id          = "vpc-0f1e2d3c4b5a69788"
    subnet_ids      = ["subnet-0f1e2d3c4b5a69781", "subnet-0f1e2d3c4b5a69782"]
    route_table_ids = ["rtb-0f1e2d3c4b5a69781"]
  }
}
