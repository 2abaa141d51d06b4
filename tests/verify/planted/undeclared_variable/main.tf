resource "aws_sns_topic" "planted" {
  name = var.not_declared
}
