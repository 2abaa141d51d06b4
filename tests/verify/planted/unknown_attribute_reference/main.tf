resource "aws_vpc" "ok" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_sns_topic" "planted" {
  name = aws_vpc.ok.no_such_attribute
}
