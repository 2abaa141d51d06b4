resource "aws_db_subnet_group" "planted" {
  name = "planted"
}
