resource "aws_vpc" "planted" {
  cidr_block         = "10.0.0.0/16"
  enable_dns_support = [1, 2]
}
