resource "aws_vpc" "planted" {
  cidr_block    = "10.0.0.0/16"
  no_such_thing = true
}
